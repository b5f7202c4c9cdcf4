import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateDocumentCommand,
  DescribeDocumentCommand,
  ListCommandsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ec2InstanceFencer } from '../../../adapters/ec2/ec2-instance-fencer.ts';
import { SnsNotifier } from '../../../adapters/sns/sns-notifier.ts';
import { SsmCommandBus } from '../../../adapters/ssm/ssm-command-bus.ts';
import { ACTION_DOCUMENT_NAME, actionDocument } from '../../../core/actions/ssm-document.ts';
import { CommandDeliveryError, FencingError } from '../../../core/errors.ts';
import type { CommandRequest } from '../../../core/ports/command-bus.ts';
import { runCommand } from '../../../functions/controller/run-command.ts';
import { type DynamoBackend, motoBackend } from '../../helpers/dynamo-backends.ts';
import { RecordingProxy } from '../../helpers/recording-proxy.ts';

const aws = (endpoint: string) => ({
  region: 'us-east-1',
  endpoint,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  maxAttempts: 1,
});

describe.skipIf(motoBackend.skipReason !== undefined)('the AWS adapters against moto server', () => {
  let moto: DynamoBackend;
  let proxy: RecordingProxy;
  let instanceId: string;

  beforeAll(async () => {
    moto = await motoBackend.start();
    proxy = await new RecordingProxy(moto.endpoint).start();
    const ec2 = new EC2Client(aws(moto.endpoint));
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
      }),
    );
    instanceId = run.Instances![0]!.InstanceId!;
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  it('registers the pgwarden-action document as SSM accepts it (schema 2.2, one command)', async () => {
    const ssm = new SSMClient(aws(moto.endpoint));
    await ssm.send(
      new CreateDocumentCommand({
        Name: ACTION_DOCUMENT_NAME,
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
        Content: JSON.stringify(actionDocument()),
      }),
    );
    const described = await ssm.send(new DescribeDocumentCommand({ Name: ACTION_DOCUMENT_NAME }));
    expect(described.Document?.SchemaVersion).toBe('2.2');
    expect(described.Document?.Parameters?.map((p) => p.Name).sort()).toEqual([
      'action',
      'bundle',
      'cluster',
      'leader',
      'standbys',
      'term',
    ]);
  });

  it('sends the document to the member instance with every parameter, and reads a result-less reply as a delivery error', async () => {
    const bus = new SsmCommandBus(new SSMClient(aws(proxy.endpoint)), {
      outputLogGroup: '/pgwarden/commands',
    });
    const error = await runCommand(
      bus,
      { cluster: 'demo', member: 'node2', instanceId },
      { action: 'rejoin', term: 7, leader: 'node1' },
      5000,
      { pollMs: 50 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandDeliveryError);
    expect((error as Error).message).toContain('printed no result line');
    const sent = JSON.parse(proxy.find('SendCommand').at(-1)!.body);
    expect(sent).toMatchObject({
      DocumentName: 'pgwarden-action',
      InstanceIds: [instanceId],
      Parameters: {
        action: ['rejoin'],
        cluster: ['demo'],
        term: ['7'],
        leader: ['node1'],
        standbys: [''],
        bundle: [''],
      },
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/pgwarden/commands' },
    });
    const listed = await new SSMClient(aws(moto.endpoint)).send(new ListCommandsCommand({}));
    expect(
      listed.Commands?.some(
        (c) => c.DocumentName === 'pgwarden-action' && c.InstanceIds?.includes(instanceId),
      ),
    ).toBe(true);
    expect(proxy.find('GetCommandInvocation').length).toBeGreaterThan(0);
  });

  it('refuses to send a command to a member without an instance id', async () => {
    const bus = new SsmCommandBus(new SSMClient(aws(moto.endpoint)));
    await expect(
      runCommand(bus, { cluster: 'demo', member: 'node2' }, { action: 'fence', term: 1 }, 1000),
    ).rejects.toThrow('names no EC2 instance id');
  });

  it('reads instance state and force-stops an instance with Force=true', async () => {
    const fencer = new Ec2InstanceFencer(new EC2Client(aws(proxy.endpoint)));
    expect(await fencer.state({ member: 'node1', instanceId })).toBe('running');
    await fencer.forceStop({ member: 'node1', instanceId });
    const stop = proxy.find('StopInstances').at(-1)!;
    expect(new URLSearchParams(stop.body).get('Force')).toBe('true');
    expect(new URLSearchParams(stop.body).get('InstanceId.1')).toBe(instanceId);
    expect(await fencer.state({ member: 'node1', instanceId })).toBe('stopped');
  });

  it('reports an unknown instance as terminated, and no instance id as unknown', async () => {
    const fencer = new Ec2InstanceFencer(new EC2Client(aws(moto.endpoint)));
    expect(await fencer.state({ member: 'ghost', instanceId: 'i-0123456789abcdef0' })).toBe('terminated');
    expect(await fencer.state({ member: 'local' })).toBe('unknown');
    await expect(fencer.forceStop({ member: 'local' })).rejects.toBeInstanceOf(FencingError);
  });

  it('publishes notifications to the SNS topic with cluster and type attributes', async () => {
    const sns = new SNSClient(aws(proxy.endpoint));
    const topic = await sns.send(new CreateTopicCommand({ Name: 'pgwarden-events' }));
    await new SnsNotifier(sns, topic.TopicArn!).notify({
      type: 'primary_changed',
      cluster: 'demo',
      message: 'node1 -> node2',
      term: 4,
    });
    const body = new URLSearchParams(proxy.find('Publish').at(-1)!.body);
    expect(body.get('Subject')).toBe('pgwarden demo: primary changed');
    expect(JSON.parse(body.get('Message')!)).toEqual({
      type: 'primary_changed',
      cluster: 'demo',
      message: 'node1 -> node2',
      term: 4,
    });
    expect(body.get('MessageAttributes.entry.1.Name')).toBe('cluster');
  });
});

describe('the SSM command bus reading replies (error paths moto cannot produce)', () => {
  let fake: RecordingProxy;
  beforeAll(async () => {
    fake = await new RecordingProxy().start();
  });
  afterAll(async () => fake?.stop());

  const json = (body: unknown, status = 200) => ({ status, body: JSON.stringify(body) });
  const bus = () => new SsmCommandBus(new SSMClient(aws(fake.endpoint)));
  const run = (request: CommandRequest, timeoutMs: number) =>
    runCommand(bus(), target, request, timeoutMs, { pollMs: 20 });
  const target = { cluster: 'demo', member: 'node2', instanceId: 'i-0abc' };

  it('retries InvocationDoesNotExist and polls until the action ends, then returns its result line', async () => {
    let polls = 0;
    fake.respond = (r) => {
      if (r.target.endsWith('SendCommand')) return json({ Command: { CommandId: 'c-1' } });
      polls += 1;
      if (polls <= 2) return json({ __type: 'InvocationDoesNotExist', message: 'not yet' }, 400);
      if (polls === 3) return json({ Status: 'InProgress' });
      return json({
        Status: 'Success',
        StandardOutputContent:
          'log line\n{"ok":true,"action":"promote","member":"node2","term":5,"changed":true,"message":"promoted","timeline":3}\n',
      });
    };
    const result = await run({ action: 'promote', term: 5 }, 5000);
    expect(result).toMatchObject({ ok: true, action: 'promote', timeline: 3 });
    expect(polls).toBe(4);
  });

  it('returns a refused action as ok: false (Failed status with a result line)', async () => {
    fake.respond = (r) =>
      r.target.endsWith('SendCommand')
        ? json({ Command: { CommandId: 'c-2' } })
        : json({
            Status: 'Failed',
            StandardOutputContent:
              '{"ok":false,"action":"promote","member":"node2","term":5,"message":"promote refused: ..."}',
          });
    expect(await run({ action: 'promote', term: 5 }, 5000)).toMatchObject({ ok: false });
  });

  it.each([
    [
      'throttled SendCommand',
      () => json({ __type: 'ThrottlingException', message: 'Rate exceeded' }, 400),
      'SendCommand failed: ThrottlingException',
    ],
    [
      'an undeliverable command',
      (r: { target: string }) =>
        r.target.endsWith('SendCommand')
          ? json({ Command: { CommandId: 'c-3' } })
          : json({ Status: 'Undeliverable' }),
      'ended Undeliverable',
    ],
    [
      'a command that never ends',
      (r: { target: string }) =>
        r.target.endsWith('SendCommand')
          ? json({ Command: { CommandId: 'c-4' } })
          : json({ Status: 'InProgress' }),
      'did not finish within 300 ms',
    ],
  ])('turns %s into a CommandDeliveryError', async (_name, respond, message) => {
    fake.respond = respond as never;
    const error = await run({ action: 'fence', term: 1 }, 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandDeliveryError);
    expect((error as Error).message).toContain(message);
  });
});
