// A module that calls every wrapper, so every host import of ABI version 1
// is linked in; `npm run check` builds it and check_abi.py / wasm-objdump
// verify the import signatures. It is never deployed.

import * as px from "../assembly/index";
export * from "../assembly/exports";

export function touch_all(): void {
  const v = px.Value.map().setInt("a", 1);
  const t = px.Value.array().push(px.Value.str("x")).push(px.Value.nil());
  px.send("a", "t", v);
  px.ask("a", "t", v, 100);
  px.reply(v);
  px.selfId();
  px.spawn("r", v);
  px.stop("a");
  px.link("a");
  px.unlink("a");
  px.monitor("a");
  px.demonitor(1);
  px.sendAfter(10, "t", v);
  px.cancelTimer(1);
  px.sleep(1);
  px.log(px.LOG_INFO, "m");
  px.nowMs();
  px.random(4);
  px.metricsAdd("m", 1.5);
  px.kvGet("k");
  px.kvPut("k", v, 0);
  px.kvDelete("k");
  px.kvList("k");
  px.kvCas("k", null, v, 0);
  px.kvIncrement("k", 1);
  px.kvTtl("k");
  px.tsWrite(t, 0);
  px.tsRead(t, 0);
  px.tsTake(t, 0);
  px.tsReadAll(t, 0);
  px.tsCount(t);
  px.tsWriteIfAbsent(t, t, 0);
  px.tsReplace(t, t, 0);
  px.httpFetch("l", "GET", "/", null);
}
