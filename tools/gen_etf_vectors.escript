#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noinput
%%
%% Writes testdata/etf/vectors.json: real term_to_binary/1,2 output for the ETF codec tests.
%%
%% Usage (from the repository root):  escript tools/gen_etf_vectors.escript [OutFile]
%%
%% Each case holds the Erlang source text, the term in a tagged JSON form ("expect", see enc/1), and
%% the hex of term_to_binary(T) with the default options ("default", minor_version 1 on OTP 25),
%% [{minor_version,2}] ("v2", UTF-8 atom tags), [{minor_version,0}] ("v0", FLOAT_EXT) and
%% [compressed] ("z"); a variant is written only when its bytes differ from "default".
%%
%% To get a real node name and a non-zero creation in pids, refs and ports, run an epmd first;
%% without one the node stays nonode@nohost with creation 0.
-mode(compile).

main(Args) ->
    Out = case Args of
              [F] -> F;
              [] -> "testdata/etf/vectors.json"
          end,
    _ = net_kernel:start([list_to_atom("etfgen" ++ os:getpid()), shortnames]),
    Compiled = [
        {"local_fun", "fun(X) -> X end", fun(X) -> X end},
        {"local_fun_closure", "Y = {free, <<\"var\">>}, fun() -> Y end", closure({free, list_to_binary("var")})}
    ],
    Evaluated = [{Name, Src, eval(Src)} || {Name, Src} <- cases()],
    Items = [case_json(C) || C <- Evaluated ++ Compiled],
    Json = [
        "{\n",
        "  \"otp_release\": ", str(erlang:system_info(otp_release)), ",\n",
        "  \"node\": ", str(atom_to_list(node())), ",\n",
        "  \"creation\": ", integer_to_list(erlang:system_info(creation)), ",\n",
        "  \"cases\": [\n", lists:join(",\n", Items), "\n  ]\n}\n"
    ],
    ok = filelib:ensure_dir(Out),
    ok = file:write_file(Out, unicode:characters_to_binary(Json)),
    io:format("wrote ~b cases to ~s (node ~s, creation ~b)~n",
              [length(Items), Out, node(), erlang:system_info(creation)]).

cases() ->
    [
        %% integers
        {"int_zero", "0"},
        {"int_small", "42"},
        {"int_255", "255"},
        {"int_256", "256"},
        {"int_neg_one", "-1"},
        {"int_i32_max", "2147483647"},
        {"int_i32_min", "-2147483648"},
        {"int_i32_max_plus_1", "2147483648"},
        {"int_i32_min_minus_1", "-2147483649"},
        {"int_2_pow_53", "9007199254740992"},
        {"int_u64_max", "18446744073709551615"},
        {"int_neg_2_pow_64", "-18446744073709551616"},
        {"big_255_digit_bytes", "(1 bsl 2040) - 1"},
        {"big_256_digit_bytes", "1 bsl 2040"},
        {"big_large_neg", "-(1 bsl 2100) - 12345"},
        %% floats
        {"float_one", "1.0"},
        {"float_neg_zero", "-0.0"},
        {"float_zero", "0.0"},
        {"float_pi", "3.141592653589793"},
        {"float_1e300", "1.0e300"},
        {"float_neg_tiny", "-5.0e-324"},
        {"float_max", "1.7976931348623157e308"},
        %% atoms
        {"atom_ok", "ok"},
        {"atom_true", "true"},
        {"atom_empty", "''"},
        {"atom_latin1", "'héllo'"},
        {"atom_unicode", "'привет'"},
        {"atom_emoji", "'🎉'"},
        {"atom_255_chars", "list_to_atom(lists:duplicate(255, $a))"},
        {"atom_255_unicode_chars", "list_to_atom(lists:duplicate(255, 16#1F600))"},
        %% binaries and bitstrings
        {"bin_empty", "<<>>"},
        {"bin_small", "<<1,2,3>>"},
        {"bin_text", "<<\"hello world\">>"},
        {"bin_large", "binary:copy(list_to_binary(lists:seq(0, 255)), 16)"},
        {"bits_1_3", "<<1:3>>"},
        {"bits_13", "<<255, 5:5>>"},
        {"bits_7", "<<127:7>>"},
        %% lists
        {"nil", "[]"},
        {"charlist", "\"abc\""},
        {"charlist_255", "[0, 255]"},
        {"unicode_list", "[1000]"},
        {"unicode_charlist", "\"héllo wörld ☃\""},
        {"int_list_over_255", "[1, 2, 256]"},
        {"list_mixed", "[1, a, <<\"b\">>, 2.5, {}, []]"},
        {"list_neg_ints", "[-1, -2]"},
        {"improper_1_2", "[1|2]"},
        {"improper_a_b_c", "[a, b|c]"},
        {"improper_tail_binary", "[a|<<\"t\">>]"},
        {"nested_list", "[[1], [[2]], [[[3]]]]"},
        %% tuples
        {"tuple_empty", "{}"},
        {"tuple_small", "{ok, 1, <<\"x\">>}"},
        {"tuple_255", "list_to_tuple(lists:seq(1, 255))"},
        {"tuple_300", "list_to_tuple(lists:seq(1, 300))"},
        %% maps
        {"map_empty", "#{}"},
        {"map_small", "#{a => 1, b => 2}"},
        {"map_nested", "#{a => #{b => #{c => [1, 2, 3]}}, d => {x, y}}"},
        {"map_non_atom_keys", "#{1 => one, \"two\" => 2, <<\"three\">> => 3, {4} => four, [] => nil, 5.5 => f}"},
        {"map_40_keys", "maps:from_list([{K, K * K} || K <- lists:seq(1, 40)])"},
        %% pids, refs, ports, funs
        {"pid_self", "self()"},
        {"ref_make_ref", "make_ref()"},
        {"port_first", "hd(erlang:ports())"},
        {"export_fun", "fun lists:map/2"},
        {"export_fun_unicode", "fun 'modé':'fün'/0"},
        %% composites
        {"rpc_reply_like", "{rex, [{node, 'a@b'}, {uptime, 123456789012}, {load, 0.25}, {tags, [<<\"x\">>, <<\"y\">>]}]}"},
        {"deep_list_400", "lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 400))"},
        {"deep_tuple_400", "lists:foldl(fun(_, A) -> {A} end, leaf, lists:seq(1, 400))"},
        {"deep_map_100", "lists:foldl(fun(_, A) -> #{k => A} end, #{}, lists:seq(1, 100))"}
    ].

%% A fun with one free variable (NumFree = 1 in NEW_FUN_EXT).
closure(Y) -> fun() -> Y end.

eval(Src) ->
    {ok, Toks, _} = erl_scan:string(Src ++ "."),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    V.

case_json({Name, Src, Term}) ->
    Default = term_to_binary(Term),
    Variants = [{"v2", term_to_binary(Term, [{minor_version, 2}])},
                {"v0", term_to_binary(Term, [{minor_version, 0}])},
                {"z", term_to_binary(Term, [compressed])}],
    Extra = [["\"", K, "\": ", str(hex(B))] || {K, B} <- Variants, B =/= Default],
    ["    {\"name\": ", str(Name), ", \"source\": ", str(Src), ",\n",
     "     \"expect\": ", enc(Term), ",\n",
     "     \"default\": ", str(hex(Default)),
     [[",\n     ", E] || E <- Extra],
     "}"].

%% The tagged JSON form of a term: {"int": "decimal"}, {"float": "hex of the 8 IEEE bytes"},
%% {"atom": "hex of UTF-8"}, {"bin": "hex"}, {"bits": "hex", "n": bits in the last byte},
%% {"list": [...]}, {"ilist": [...], "tail": T}, {"tuple": [...]}, {"map": [[K, V], ...]},
%% {"pid"|"ref"|"port": {"node": "hex", "text": "<0.9.0>", "creation": C}},
%% {"xfun": {"module": "hex", "function": "hex", "arity": A}}, {"lfun": {"module": "hex", "arity": A}}.
enc(T) when is_integer(T) -> ["{\"int\": ", str(integer_to_list(T)), "}"];
enc(T) when is_float(T) -> ["{\"float\": ", str(hex(<<T/float>>)), "}"];
enc(T) when is_atom(T) -> ["{\"atom\": ", str(hex(atom_to_binary(T, utf8))), "}"];
enc(T) when is_binary(T) -> ["{\"bin\": ", str(hex(T)), "}"];
enc(T) when is_bitstring(T) ->
    N = bit_size(T) rem 8,
    Padded = <<T/bitstring, 0:(8 - N)>>,
    ["{\"bits\": ", str(hex(Padded)), ", \"n\": ", integer_to_list(N), "}"];
enc(T) when is_list(T) ->
    {Elems, Tail} = split_list(T, []),
    case Tail of
        [] -> ["{\"list\": [", lists:join(", ", [enc(E) || E <- Elems]), "]}"];
        _ -> ["{\"ilist\": [", lists:join(", ", [enc(E) || E <- Elems]), "], \"tail\": ", enc(Tail), "}"]
    end;
enc(T) when is_tuple(T) -> ["{\"tuple\": [", lists:join(", ", [enc(E) || E <- tuple_to_list(T)]), "]}"];
enc(T) when is_map(T) ->
    ["{\"map\": [", lists:join(", ", [["[", enc(K), ", ", enc(V), "]"] || {K, V} <- maps:to_list(T)]), "]}"];
enc(T) when is_pid(T) -> ident("pid", node(T), pid_to_list(T));
enc(T) when is_reference(T) -> ident("ref", node(T), ref_to_list(T));
enc(T) when is_port(T) -> ident("port", node(T), port_to_list(T));
enc(T) when is_function(T) ->
    {module, M} = erlang:fun_info(T, module),
    {arity, A} = erlang:fun_info(T, arity),
    case erlang:fun_info(T, type) of
        {type, external} ->
            {name, F} = erlang:fun_info(T, name),
            ["{\"xfun\": {\"module\": ", str(hex(atom_to_binary(M, utf8))), ", \"function\": ",
             str(hex(atom_to_binary(F, utf8))), ", \"arity\": ", integer_to_list(A), "}}"];
        {type, local} ->
            ["{\"lfun\": {\"module\": ", str(hex(atom_to_binary(M, utf8))), ", \"arity\": ",
             integer_to_list(A), "}}"]
    end.

%% Local pids, refs and ports carry this node's name and creation.
ident(Kind, Node, Text) ->
    Node = node(),
    ["{\"", Kind, "\": {\"node\": ", str(hex(atom_to_binary(Node, utf8))), ", \"text\": ", str(Text),
     ", \"creation\": ", integer_to_list(erlang:system_info(creation)), "}}"].

split_list([H | T], Acc) -> split_list(T, [H | Acc]);
split_list(Tail, Acc) -> {lists:reverse(Acc), Tail}.

hex(Bin) -> [io_lib:format("~2.16.0b", [B]) || <<B>> <= Bin].

%% A JSON string from Unicode characters.
str(Chars) -> [$", [esc(C) || C <- unicode:characters_to_list(Chars)], $"].

esc($") -> "\\\"";
esc($\\) -> "\\\\";
esc(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
esc(C) -> C.
