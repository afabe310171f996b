// @plexspaces/sdk-as: AssemblyScript SDK for plexspaces WebAssembly actors,
// ABI version 1 (docs/wasm-abi.md).
//
// The app's entry file must re-export the ABI exports:
//   export * from "@plexspaces/sdk-as/exports";
// and be built with --runtime incremental and
//   --use abort=~lib/@plexspaces/sdk-as/assembly/abort/pxAbort

export { pxAbort } from "./abort";
export * from "./msgpack";
export * from "./host";
export {
  KIND_CALL, KIND_CAST, KIND_INFO, HANDLED, FAILED, STOP,
  Message, Handler, Actor, ActorType, actorType, self,
} from "./actor";
