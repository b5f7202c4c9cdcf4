// The CDK app: `npx cdk synth` (offline, no credentials) and `npx cdk deploy`. Context values
// (cdk.json or -c key=value): clusterName, vpcId, nodeCount, instanceType, postgresVersion,
// tableName, volumeSizeGiB, retainTable, natGateways, hostTemplateVersions (e.g. 1,1,latest),
// stackName, and the cluster config as clusterConfig (JSON).
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildAgentBundle } from '../scripts/build-agent.ts';
import { applyNagSuppressions } from './nag-suppressions.ts';
import { PgwardenStack } from './pgwarden-stack.ts';
import { parseStackContext } from './stack-context.ts';

const app = new App();
const context = parseStackContext((key) => app.node.tryGetContext(key));
const agentBundlePath = await buildAgentBundle();
const stack = new PgwardenStack(app, context.stackName, {
  ...context.props,
  agentBundlePath,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
applyNagSuppressions(stack);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
