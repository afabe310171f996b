// "@plexspaces/sdk-as/exports": the ABI exports, for the app's entry file:
//   export * from "@plexspaces/sdk-as/exports";
export * from "./assembly/exports";
