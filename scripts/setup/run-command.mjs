// @ts-check
/**
 * Runs one install command with each line of its output prefixed, so a reader (and .ci/run's
 * count of ava's ✔/✘ marks, which start with white space) can tell install output from the
 * tests'. Both of its streams go to `out` (stderr): the set-up's stdout carries only its answer.
 */
import { spawn } from "node:child_process";

export const OUTPUT_PREFIX = "setup| ";

/**
 * A writer that puts `prefix` before every line, keeping a partial last line until it ends.
 * @param {string} prefix
 * @param {(text: string) => void} write
 */
export function linePrefixer(prefix, write) {
  let partial = "";
  return {
    /** @param {string} chunk */
    push(chunk) {
      const lines = (partial + chunk.replace(/\r(?!\n)/g, "\n")).split(/\r?\n/);
      partial = lines.pop() ?? "";
      for (const line of lines) write(`${prefix}${line}\n`);
    },
    end() {
      if (partial) write(`${prefix}${partial}\n`);
      partial = "";
    },
  };
}

/**
 * @param {import("./plan.mjs").Command} command
 * @param {{ cwd: string, env: NodeJS.ProcessEnv, out: NodeJS.WritableStream }} options
 * @returns {Promise<{ code: number | null, signal: NodeJS.Signals | null, error?: Error }>}
 */
export function runCommand(command, { cwd, env, out }) {
  return new Promise((resolve) => {
    const [file, ...args] = command.argv;
    const child = spawn(file, args, { cwd, env: { ...env, ...command.env }, stdio: ["inherit", "pipe", "pipe"] });
    const prefixers = [child.stdout, child.stderr].map((stream) => {
      const p = linePrefixer(OUTPUT_PREFIX, (text) => out.write(text));
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => p.push(chunk));
      return p;
    });
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("close", (code, signal) => {
      for (const p of prefixers) p.end();
      resolve({ code, signal });
    });
  });
}
