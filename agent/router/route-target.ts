/** A PostgreSQL server a router sends connections to. */
export interface RouteTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}
