export interface DynamoClientOptions {
  readonly region?: string;
  /** DynamoDB-compatible endpoint: dynalite, moto, LocalStack. Default: AWS. */
  readonly endpoint?: string;
  /** Per-request timeout, so a hung store never outlives the caller's deadline. @default 1000 */
  readonly requestTimeoutMs?: number;
  /** @default 3 */
  readonly maxAttempts?: number;
}
