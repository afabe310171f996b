// The exports ABI version 1 requires (besides `memory`, which the compiler
// exports). The app's entry file re-exports this file:
//   export * from "@plexspaces/sdk-as/exports";
export {
  px_abi_version, px_alloc, px_free, px_init, px_handle, px_get_state, px_set_state,
} from "./actor";
