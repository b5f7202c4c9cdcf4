import { Stack } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ACTION_DOCUMENT_NAME, actionDocument } from '../../core/actions/ssm-document.ts';

export interface ActionDocumentProps {
  /** @default 'pgwarden-action' */
  readonly documentName?: string;
  /** Seconds one action may run on a host. @default 600 */
  readonly executionTimeoutSeconds?: number;
}

/** The `pgwarden-action` Command document, rendered from the data the local command bus runs. */
export class ActionDocument extends Construct {
  readonly documentName: string;
  readonly documentArn: string;

  constructor(scope: Construct, id: string, props: ActionDocumentProps = {}) {
    super(scope, id);
    this.documentName = props.documentName ?? ACTION_DOCUMENT_NAME;
    if (!/^[a-zA-Z0-9_.-]{3,128}$/.test(this.documentName) || /^(aws|amazon)/i.test(this.documentName)) {
      throw new Error(
        `ActionDocument documentName: got ${JSON.stringify(this.documentName)}, expected 3-128 of a-z A-Z 0-9 _ . -, not starting with aws or amazon`,
      );
    }
    const timeout = props.executionTimeoutSeconds ?? 600;
    if (!Number.isInteger(timeout) || timeout < 30 || timeout > 3600) {
      throw new Error(
        `ActionDocument executionTimeoutSeconds: got ${timeout}, expected a whole number from 30 to 3600`,
      );
    }
    new ssm.CfnDocument(this, 'Document', {
      name: this.documentName,
      documentType: 'Command',
      documentFormat: 'JSON',
      updateMethod: 'NewVersion',
      content: actionDocument(timeout),
    });
    this.documentArn = Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'document',
      resourceName: this.documentName,
    });
  }
}
