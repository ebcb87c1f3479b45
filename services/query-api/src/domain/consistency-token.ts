/** A GTID list as MariaDB prints it: `domain-server-sequence[,…]`. */
const GTID = /^\d+-\d+-\d+(,\d+-\d+-\d+)*$/;

/** Whether a header value is a consistency token: a GTID list of bounded length. */
export function isConsistencyToken(value: string): boolean {
  return GTID.test(value) && value.length <= 512;
}
