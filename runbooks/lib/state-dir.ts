/**
 * `--state-dir`, checked before anything is read or written: a path the journal can be written
 * under, or a refusal naming the path and what is wrong with it (a file in the way, a read-only
 * or unwritable directory, a control character) — never a raw ENOTDIR or a misleading ENOENT.
 */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BadInputError } from "./errors.ts";
import { shown } from "./show.ts";

/** Resolves `--state-dir`; @throws BadInputError naming it and what is allowed. */
export function checkStateDir(given: string, forWriting: boolean): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(given))
    throw new BadInputError(
      `invalid --state-dir ${shown(given)}: expected a directory path without newlines or other control characters (it is printed in commands to paste)`,
    );
  const dir = resolve(given);
  if (!forWriting) return dir;
  // The nearest part of the path that exists must be a directory this process can write into.
  for (let here = dir; ; here = dirname(here)) {
    let isDir: boolean;
    try {
      isDir = statSync(here).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && dirname(here) !== here) continue;
      if (code === "ENOTDIR") continue;
      throw new BadInputError(
        `--state-dir ${shown(given)}: ${here} cannot be read (${code}): expected a writable directory`,
      );
    }
    if (!isDir)
      throw new BadInputError(
        `--state-dir ${shown(given)}: ${here} is a file, not a directory: expected a directory (or a path under one) where run journals can be written`,
      );
    try {
      accessSync(here, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new BadInputError(
        `--state-dir ${shown(given)}: ${here} is not writable (${code === "EROFS" ? "read-only file system" : code}): expected a directory where run journals can be written`,
      );
    }
    return dir;
  }
}
