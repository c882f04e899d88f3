// `npm run test:corpus`: the logical and physical paths on PostgreSQL's own regression database
// (test/corpus/), kept out of `npm test` (it builds the corpus first: see its README section).
export default {
  files: ["test/corpus/**/*.corpus.ts"],
  extensions: ["ts"],
  nodeArguments: ["--import=tsx"],
  workerThreads: false,
  timeout: "10m",
  verbose: true,
};
