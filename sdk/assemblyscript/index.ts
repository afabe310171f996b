// Package entry for the AssemblyScript compiler, which resolves
// "@plexspaces/sdk-as" to node_modules/@plexspaces/sdk-as/index.ts.
export * from "./assembly/index";
