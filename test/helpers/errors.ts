/** Asserting on the errors users see. */
import { GuardpostError } from "../../src/errors.js";

/** The GuardpostError `fn` throws; any other outcome fails the test. */
export function failure(fn: () => unknown): GuardpostError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GuardpostError) return err;
    throw err;
  }
  throw new Error("expected a GuardpostError");
}
