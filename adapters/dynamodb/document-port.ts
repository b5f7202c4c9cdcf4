import type {
  DeleteCommandInput,
  GetCommandInput,
  PutCommandInput,
  QueryCommandInput,
  UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';

export type DocumentItem = Record<string, unknown>;

/**
 * The five DynamoDB document operations the store uses, with the AWS SDK document client's
 * input shapes (native values, not attribute values). Two adapters: `sdkDocuments` (the SDK's
 * document client: the controller, the CLI, the local topology) and `createJsonDocuments` (a
 * small client of DynamoDB's JSON protocol: the agent, which must stay small in memory).
 */
export interface DocumentPort {
  get(input: GetCommandInput): Promise<{ Item?: DocumentItem }>;
  put(input: PutCommandInput): Promise<unknown>;
  update(input: UpdateCommandInput): Promise<{ Attributes?: DocumentItem }>;
  delete(input: DeleteCommandInput): Promise<unknown>;
  query(input: QueryCommandInput): Promise<{ Items?: DocumentItem[]; LastEvaluatedKey?: DocumentItem }>;
}
