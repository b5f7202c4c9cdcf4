/**
 * Whether a client message leaves state in its session that a new session on another member
 * would not have (issue #17): such a session is cut at a change of primary, never moved. Errs on
 * the side of "yes": a session wrongly kept is a wrong result, one wrongly cut is one error.
 */
const SESSION_STATEMENT =
  /^(?:SET(?!\s+(?:LOCAL|TRANSACTION|CONSTRAINTS)\b)|RESET|PREPARE|LISTEN|DECLARE|DISCARD|LOAD|CREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?)\b/i;
const SESSION_FUNCTION =
  /\b(?:pg_advisory_lock|pg_advisory_lock_shared|pg_try_advisory_lock|pg_try_advisory_lock_shared|set_config|lo_open|dblink_connect)\s*\(/i;

function statementsChangeSession(sql: string): boolean {
  const text = sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
  if (SESSION_FUNCTION.test(text)) return true;
  return text.split(';').some((statement) => SESSION_STATEMENT.test(statement.trim()));
}

/** `Q` (simple query) and `P` (Parse: a named statement outlives its transaction). */
export function changesSession(type: string, head: Buffer | undefined): boolean {
  if (!head) return false;
  if (type === 'Q') return statementsChangeSession(head.toString('utf8').replace(/\0.*$/s, ''));
  if (type === 'P') {
    const nameEnd = head.indexOf(0);
    if (nameEnd !== 0) return true; // a named prepared statement (or a name longer than the head)
    return statementsChangeSession(head.subarray(1).toString('utf8').replace(/\0.*$/s, ''));
  }
  return false;
}
