import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE_DEFINITION } from '../../core/store/table-definition.ts';

export interface CoordinationTableProps {
  /** @default 'pgwarden' */
  readonly tableName?: string;
  /** @default true */
  readonly deletionProtection?: boolean;
  /** @default RemovalPolicy.RETAIN - the table outlives the stack */
  readonly removalPolicy?: RemovalPolicy;
}

/** The one DynamoDB table (DESIGN §2), from the same definition the local topology uses. */
export class CoordinationTable extends Construct {
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: CoordinationTableProps = {}) {
    super(scope, id);
    const tableName = props.tableName ?? TABLE_DEFINITION.defaultTableName;
    if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
      throw new Error(
        `CoordinationTable tableName: got ${JSON.stringify(tableName)}, expected 3-255 of A-Z a-z 0-9 _ . -`,
      );
    }
    this.table = new dynamodb.TableV2(this, 'Table', {
      tableName,
      partitionKey: { name: TABLE_DEFINITION.partitionKey.name, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_DEFINITION.sortKey.name, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? true,
      timeToLiveAttribute: TABLE_DEFINITION.timeToLiveAttribute,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /**
   * What an agent of `cluster` may do: read and write its own cluster's items, nothing else
   * (`dynamodb:LeadingKeys`). No Scan, no other partition, not the shared registry partition (a
   * LeadingKeys condition cannot confine its sort keys, so one cluster's host could remove
   * another cluster from the controller's view): the stack tells the controller its clusters.
   */
  grantAgent(grantee: iam.IGrantable, cluster: string): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [cluster] } },
    });
  }

  /** The controller reads and writes every cluster. */
  grantController(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }
}
