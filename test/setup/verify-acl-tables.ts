/**
 * Every decision table any test builds is checked against the rules it was
 * built from (src/acl/verify-table.ts), so a layout mistake fails the test
 * that exposed it instead of turning into a wrong decision somewhere later.
 */
import { checkEveryTable } from "../../src/acl/decide.js";
import { verifyTable } from "../../src/acl/verify-table.js";

checkEveryTable(verifyTable);
