// AssemblyScript's abort (failed assert, out-of-range index, throw) imports
// env.abort by default, and the node provides no "env" module. Build with
//   --use abort=<internal path of this file>/pxAbort
// (see examples/wasm/assemblyscript/build.sh) to route it here: the message
// goes to the node log at error level, then the actor traps (unreachable).

import * as px from "./imports";

export function pxAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "abort: " + (message ? message : "(no message)");
  if (fileName) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const b = String.UTF8.encode(text);
  px.log(3, changetype<usize>(b), b.byteLength);
  unreachable();
}
