%% Erlang/OTP baseline for the plexspaces benchmarks (see bench/README.md).
%%
%% One function per workload. Run as
%%   erl +S 2 +P 2000000 -noshell -pa DIR -run px_bench main NAME
%% It prints exactly one JSON line on stdout:
%%   {"bench":NAME,"impl":"erlang","value":X,"unit":U, ...extra}
%% and exits 0; on a failed self-check it prints the reason on stderr and
%% exits 1. BENCH_SCALE (a float, default 1) scales the message/actor counts.
-module(px_bench).
-behaviour(gen_server).

-export([main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

-define(WAIT_MS, 3600000).

%% ---------------------------------------------------------------- driver

main([Name]) ->
    Code =
        try run(list_to_atom(Name)) of
            {Value, Unit, Extra} ->
                emit(Name, Value, Unit, Extra),
                0
        catch
            Class:Reason:Stack ->
                io:format(standard_error, "px_bench(erlang) ~s failed: ~p:~p~n~p~n",
                          [Name, Class, Reason, Stack]),
                1
        end,
    erlang:halt(Code);
main(Args) ->
    io:format(standard_error, "usage: px_bench main NAME (got ~p)~n", [Args]),
    erlang:halt(2).

emit(Name, Value, Unit, Extra) ->
    Fields = [io_lib:format(",\"~s\":~s", [K, num(V)]) || {K, V} <- Extra],
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~s,\"unit\":\"~s\"~s}~n",
              [Name, num(Value), Unit, Fields]).

num(X) when is_integer(X) -> integer_to_list(X);
num(X) when is_float(X) -> float_to_list(X, [{decimals, 3}, compact]).

scale() ->
    case os:getenv("BENCH_SCALE") of
        false -> 1.0;
        "" -> 1.0;
        S ->
            try list_to_float(S)
            catch error:badarg -> float(list_to_integer(S))
            end
    end.

scaled(N) -> max(1, round(N * scale())).

now_ns() -> erlang:monotonic_time(nanosecond).

secs(Ns) -> Ns / 1.0e9.

check(true, _What) -> ok;
check(false, What) -> erlang:error({self_check_failed, What}).

%% Receive exactly K messages matching Tag.
wait_n(0, _Tag) -> ok;
wait_n(K, Tag) ->
    receive Tag -> wait_n(K - 1, Tag)
    after ?WAIT_MS -> erlang:error({timeout_waiting_for, Tag, K})
    end.

%% ------------------------------------------------------------- ping_pong
%% Two processes, N round trips; each direction counts as one message.

run(ping_pong) ->
    N = scaled(2000000),
    Self = self(),
    Pong = spawn_link(fun() -> pong_loop(0) end),
    Ping = spawn_link(fun() ->
                          receive go -> ok end,
                          Self ! {ping_done, ping_loop(Pong, N, 0)}
                      end),
    T0 = now_ns(),
    Ping ! go,
    Got = receive {ping_done, C} -> C after ?WAIT_MS -> timeout end,
    T1 = now_ns(),
    Pong ! {stop, Self},
    Served = receive {pong_served, S} -> S after ?WAIT_MS -> timeout end,
    check(Got =:= N andalso Served =:= N, {round_trips, N, Got, Served}),
    {2 * N / secs(T1 - T0), "msg/s", [{"round_trips", N}]};

%% ----------------------------------------------------------- thread_ring
%% 503 processes in a ring; the token is an integer counting down the hops
%% still to make. Injected into node 0 with value H, so there are H
%% node-to-node sends and the token stops at node H rem 503.

run(thread_ring) ->
    R = 503,
    H = scaled(10000000),
    Self = self(),
    Nodes = [spawn_link(fun() -> ring_node(I, Self) end) || I <- lists:seq(0, R - 1)],
    Next = tl(Nodes) ++ [hd(Nodes)],
    [P ! {next, Q} || {P, Q} <- lists:zip(Nodes, Next)],
    T0 = now_ns(),
    hd(Nodes) ! H,
    Last = receive {ring_done, Id} -> Id after ?WAIT_MS -> timeout end,
    T1 = now_ns(),
    [P ! {stop, Self} || P <- Nodes],
    Received = collect_sum(R, ring_count),
    check(Last =:= H rem R, {last_node, Last, H rem R}),
    check(Received =:= H + 1, {tokens_received, Received, H + 1}),
    {H / secs(T1 - T0), "hops/s", [{"ring", R}, {"hops", H}]};

%% -------------------------------------------------------------- counting
%% One producer sends N `inc` messages to one counter (message_queue_data
%% off_heap), then asks it for its count; the clock stops when the count
%% arrives.

run(counting) ->
    N = scaled(10000000),
    Self = self(),
    %% The counter's mailbox grows to millions of messages; off_heap keeps
    %% its GCs from scanning the queue (on_heap makes this quadratic).
    Counter = spawn_opt(fun() -> counter_loop(0) end,
                        [link, {message_queue_data, off_heap}]),
    Producer = spawn_link(fun() ->
                              receive go -> ok end,
                              produce(Counter, N),
                              Counter ! {get, Self}
                          end),
    T0 = now_ns(),
    Producer ! go,
    Count = receive {count, C} -> C after ?WAIT_MS -> timeout end,
    T1 = now_ns(),
    check(Count =:= N, {count, Count, N}),
    {N / secs(T1 - T0), "msg/s", [{"messages", N}]};

%% ------------------------------------------------------------- fork_join
%% The parent (with message_queue_data off_heap) spawns N processes; each
%% sends one `forked` message to the parent and exits. The clock stops when all N messages arrived and the process count
%% is back where it started (all children are gone).

run(fork_join) ->
    N = scaled(1000000),
    %% Up to N `forked` messages queue up while the parent is still spawning;
    %% off_heap keeps its GCs from scanning them (on_heap is quadratic here).
    process_flag(message_queue_data, off_heap),
    Self = self(),
    Base = erlang:system_info(process_count),
    T0 = now_ns(),
    spawn_children(N, Self),
    wait_n(N, forked),
    wait_gone(Base),
    T1 = now_ns(),
    {N / secs(T1 - T0), "actors/s", [{"actors", N}]};

%% ------------------------------------------------------------------- big
%% Savina "Big": A processes; each makes M ping round trips to uniformly
%% random other processes (one ping outstanding per process; the peer
%% answers with pong). Messages = 2 * A * M.

run(big) ->
    A = 1000,
    M = scaled(5000),
    Self = self(),
    Pids = [spawn_link(fun() -> big_init(Self) end) || _ <- lists:seq(1, A)],
    Peers = list_to_tuple(Pids),
    [P ! {peers, Peers, I, M} || {P, I} <- lists:zip(Pids, lists:seq(1, A))],
    T0 = now_ns(),
    [P ! go || P <- Pids],
    wait_n(A, big_done),
    T1 = now_ns(),
    [P ! {stop, Self} || P <- Pids],
    Served = collect_sum(A, big_served),
    check(Served =:= A * M, {pings_served, Served, A * M}),
    {2 * A * M / secs(T1 - T0), "msg/s", [{"actors", A}, {"pings_per_actor", M}]};

%% ----------------------------------------------------------- ask_latency
%% One client process makes N sequential gen_server:call/3 requests to one
%% gen_server; every call is timed with erlang:monotonic_time(nanosecond).
%% Samples go to an atomics array (no GC pressure on the client's heap).

run(ask_latency) ->
    N = scaled(1000000),
    {ok, Srv} = gen_server:start_link(?MODULE, [], []),
    Self = self(),
    Samples = atomics:new(N, [{signed, false}]),
    spawn_link(fun() ->
                   T0 = now_ns(),
                   ask_loop(Srv, Samples, 1, N),
                   Self ! {ask_done, now_ns() - T0}
               end),
    Total = receive {ask_done, D} -> D after ?WAIT_MS -> timeout end,
    check(gen_server:call(Srv, count, infinity) =:= N, calls_served),
    Sorted = list_to_tuple(lists:sort([atomics:get(Samples, I) || I <- lists:seq(1, N)])),
    Mean = lists:sum(tuple_to_list(Sorted)) / N,
    {pct(Sorted, 0.50), "ns",
     [{"p99", pct(Sorted, 0.99)}, {"p999", pct(Sorted, 0.999)},
      {"mean", Mean}, {"calls", N}, {"calls_per_s", N / secs(Total)}]};

%% ----------------------------------------------------------- idle_memory
%% N processes parked in receive. Bytes per process from the RSS delta of the
%% VM (VmRSS in /proc/self/status); also erlang:memory(processes) delta.

run(idle_memory) ->
    N = scaled(1000000),
    erlang:garbage_collect(),
    timer:sleep(200),
    Base = erlang:system_info(process_count),
    Rss0 = rss_bytes(),
    Mem0 = erlang:memory(processes),
    spawn_parked(N),
    Alive = erlang:system_info(process_count) - Base,
    erlang:garbage_collect(),
    timer:sleep(500),
    Rss1 = rss_bytes(),
    Mem1 = erlang:memory(processes),
    check(Alive =:= N, {parked_alive, Alive, N}),
    {(Rss1 - Rss0) / N, "bytes",
     [{"erts_processes_bytes", (Mem1 - Mem0) / N}, {"actors", N}]};

run(Other) ->
    erlang:error({unknown_bench, Other}).

%% ------------------------------------------------------------- processes

pong_loop(Served) ->
    receive
        {ping, From} -> From ! pong, pong_loop(Served + 1);
        {stop, From} -> From ! {pong_served, Served}
    end.

ping_loop(_Pong, 0, Done) -> Done;
ping_loop(Pong, K, Done) ->
    Pong ! {ping, self()},
    receive pong -> ping_loop(Pong, K - 1, Done + 1) end.

ring_node(Id, Main) ->
    receive {next, Next} -> ring_loop(Id, Next, Main, 0) end.

ring_loop(Id, Next, Main, Seen) ->
    receive
        0 -> Main ! {ring_done, Id}, ring_loop(Id, Next, Main, Seen + 1);
        V when is_integer(V) -> Next ! V - 1, ring_loop(Id, Next, Main, Seen + 1);
        {stop, From} -> From ! {ring_count, Seen}
    end.

collect_sum(K, Tag) -> collect_sum(K, Tag, 0).
collect_sum(0, _Tag, Acc) -> Acc;
collect_sum(K, Tag, Acc) ->
    receive {Tag, V} -> collect_sum(K - 1, Tag, Acc + V)
    after ?WAIT_MS -> erlang:error({timeout_waiting_for, Tag, K})
    end.

counter_loop(C) ->
    receive
        inc -> counter_loop(C + 1);
        {get, From} -> From ! {count, C}
    end.

produce(_Counter, 0) -> ok;
produce(Counter, K) -> Counter ! inc, produce(Counter, K - 1).

spawn_children(0, _Parent) -> ok;
spawn_children(K, Parent) ->
    spawn(fun() -> Parent ! forked end),
    spawn_children(K - 1, Parent).

wait_gone(Base) ->
    case erlang:system_info(process_count) > Base of
        true -> erlang:yield(), wait_gone(Base);
        false -> ok
    end.

big_init(Main) ->
    receive {peers, Peers, Me, M} -> big_loop(Peers, Me, M, 0, Main) end.

%% Remaining: pings this process still has to send (after the one in flight).
big_loop(Peers, Me, Remaining, Served, Main) ->
    receive
        {ping, From} ->
            From ! pong,
            big_loop(Peers, Me, Remaining, Served + 1, Main);
        pong when Remaining > 0 ->
            big_ping(Peers, Me),
            big_loop(Peers, Me, Remaining - 1, Served, Main);
        pong ->
            Main ! big_done,
            big_loop(Peers, Me, Remaining, Served, Main);
        go ->
            big_ping(Peers, Me),
            big_loop(Peers, Me, Remaining - 1, Served, Main);
        {stop, From} ->
            From ! {big_served, Served}
    end.

big_ping(Peers, Me) ->
    K = rand:uniform(tuple_size(Peers) - 1),
    Peer = if K >= Me -> K + 1; true -> K end,
    element(Peer, Peers) ! {ping, self()}.

ask_loop(_Srv, _Samples, I, N) when I > N -> ok;
ask_loop(Srv, Samples, I, N) ->
    T0 = erlang:monotonic_time(nanosecond),
    pong = gen_server:call(Srv, ping, infinity),
    T1 = erlang:monotonic_time(nanosecond),
    atomics:put(Samples, I, T1 - T0),
    ask_loop(Srv, Samples, I + 1, N).

%% Nearest-rank percentile of a sorted tuple.
pct(Sorted, P) ->
    N = tuple_size(Sorted),
    element(max(1, min(N, ceil(P * N))), Sorted).

spawn_parked(0) -> ok;
spawn_parked(K) -> spawn(fun park/0), spawn_parked(K - 1).

park() -> receive stop -> ok end.

rss_bytes() ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Bin, <<"\n">>, [global]),
                   binary:match(L, <<"VmRSS:">>) =:= {0, 6}],
    [_, Kb | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kb) * 1024.

%% ------------------------------------------------------------ gen_server

init([]) -> {ok, 0}.

handle_call(ping, _From, Served) -> {reply, pong, Served + 1};
handle_call(count, _From, Served) -> {reply, Served, Served}.

handle_cast(_Msg, State) -> {noreply, State}.
