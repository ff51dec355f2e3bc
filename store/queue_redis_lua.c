/*
 * The Redis queue's Lua scripts (see queue_redis.c for the model). Each
 * runs atomically in Redis, so two nodes that race (two submits with one
 * key, two reapers of one dead node, a cancel and a claim) see one order.
 *
 * Keys of pool P, all in P's hash slot: mpsup:{P}:q (the stream, consumer
 * group "mpsup", entries {j: id}), mpsup:{P}:j:ID (the job's hash),
 * mpsup:{P}:d (delayed ids by due time), mpsup:{P}:k:LEN:CLIENTKEY (an
 * idempotency key: the id), mpsup:{P}:w:ID (nodes waiting for the job).
 * Node keys: mpsup:nodes (consumer -> JSON) and mpsup:lease:CONSUMER.
 *
 * A job's hash: d data, c client, k key, o the consumer that accepted it,
 * s state, a attempts started, n the consumer running it, x its stream
 * entry, sub/st/fin times (seconds), pr priority, g group, nb not before,
 * r result, e error, w worker, t truncated, cx cancel asked. "" stands for
 * none.
 */
#include "config.h"

#include "store/queue_redis.h"

/* The message a finished job sends its watchers: pool, id, the record. */
#define LUA_NOTIFY							\
	"local function notify(pre, pool, id, o, me)\n"			\
	"  local h = redis.call('HMGET', pre .. 'j:' .. id, 's', 'a', "	\
	"'w', 'st', 'fin', 'r', 'e', 't')\n"				\
	"  local msg = pool .. '\\n' .. id .. '\\n' .. h[1] .. '\\n' .. "	\
	"(h[2] or '0') .. '\\n' .. (h[3] or '') .. '\\n' .. (h[4] or '') "	\
	".. '\\n' .. (h[5] or '') .. '\\n' .. (h[8] or '') .. '\\n' .. "	\
	"#(h[6] or '') .. '\\n' .. (h[6] or '') .. (h[7] or '')\n"	\
	"  if o and o ~= '' and o ~= me then "				\
	"redis.call('PUBLISH', 'mpsup:done:' .. o, msg) end\n"		\
	"  local wk = pre .. 'w:' .. id\n"				\
	"  for _, c in ipairs(redis.call('SMEMBERS', wk)) do\n"		\
	"    if c ~= o and c ~= me then "				\
	"redis.call('PUBLISH', 'mpsup:done:' .. c, msg) end\n"		\
	"  end\n"							\
	"  redis.call('DEL', wk)\n"					\
	"end\n"

/* End a job's hash in a terminal state: keep it result_ttl. */
#define LUA_CLOSE							\
	"local function close(pre, id, ttl, keep)\n"			\
	"  local jk = pre .. 'j:' .. id\n"				\
	"  if not keep then redis.call('HDEL', jk, 'd') end\n"		\
	"  redis.call('EXPIRE', jk, ttl)\n"				\
	"  local kc = redis.call('HMGET', jk, 'k', 'c')\n"		\
	"  if kc[1] and kc[1] ~= '' then redis.call('EXPIRE', pre .. "	\
	"'k:' .. #kc[2] .. ':' .. kc[2] .. kc[1], ttl) end\n"		\
	"end\n"

/*
 * submit: KEYS stream, delayed; ARGV prefix, pool, max_queue, now,
 * consumer, then 8 per job: id, data, client, key, submitted_at,
 * priority, group, not_before. Per job: "" accepted, "=ID" its key's
 * job, "!queue_full", "!id_taken" (two nodes with one number).
 */
const char queue_redis_lua_submit[] =
	"local pre, maxq, now, me = ARGV[1], tonumber(ARGV[3]), "
	"tonumber(ARGV[4]), ARGV[5]\n"
	"if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('XGROUP', "
	"'CREATE', KEYS[1], 'mpsup', '0', 'MKSTREAM') end\n"
	"local p = redis.call('XPENDING', KEYS[1], 'mpsup')\n"
	"local depth = redis.call('XLEN', KEYS[1]) - p[1] + "
	"redis.call('ZCARD', KEYS[2])\n"
	"local out, work = {}, false\n"
	"for b = 5, #ARGV - 1, 8 do\n"
	"  local id, client, key = ARGV[b+1], ARGV[b+3], ARGV[b+4]\n"
	"  local kk, old = nil, nil\n"
	"  if key ~= '' then kk = pre .. 'k:' .. #client .. ':' .. client "
	".. key; old = redis.call('GET', kk) end\n"
	"  if old then out[#out+1] = '=' .. old\n"
	"  elseif depth >= maxq then out[#out+1] = '!queue_full'\n"
	"  elseif redis.call('EXISTS', pre .. 'j:' .. id) == 1 then "
	"out[#out+1] = '!id_taken'\n"
	"  else\n"
	"    if kk then redis.call('SET', kk, id) end\n"
	"    local jk = pre .. 'j:' .. id\n"
	"    local nb = tonumber(ARGV[b+8])\n"
	"    local s, x = 'delayed', ''\n"
	"    if nb > now then redis.call('ZADD', KEYS[2], nb, id)\n"
	"    else s = 'queued'; x = redis.call('XADD', KEYS[1], '*', 'j', id) "
	"end\n"
	"    local f = {'d', ARGV[b+2], 'c', client, 'o', me, 'sub', "
	"ARGV[b+5], 's', s, 'x', x}\n"
	"    -- what most jobs leave at its default is not written\n"
	"    if key ~= '' then f[#f+1] = 'k'; f[#f+1] = key end\n"
	"    if ARGV[b+6] ~= '0' then f[#f+1] = 'pr'; f[#f+1] = ARGV[b+6] end\n"
	"    if ARGV[b+7] ~= '' then f[#f+1] = 'g'; f[#f+1] = ARGV[b+7] end\n"
	"    if nb > 0 then f[#f+1] = 'nb'; f[#f+1] = ARGV[b+8] end\n"
	"    redis.call('HSET', jk, unpack(f))\n"
	"    depth = depth + 1\n"
	"    out[#out+1] = ''\n"
	"    work = true\n"
	"  end\n"
	"end\n"
	"if work then redis.call('PUBLISH', 'mpsup:work', ARGV[2]) end\n"
	"return out\n";

/*
 * claim: KEYS stream; ARGV prefix, consumer, count, now. Per job taken:
 * {id, attempts, data, client, key, submitted_at, priority, group, o}.
 */
const char queue_redis_lua_claim[] =
	"local pre, me = ARGV[1], ARGV[2]\n"
	"if redis.call('EXISTS', KEYS[1]) == 0 then return {} end\n"
	"local r = redis.call('XREADGROUP', 'GROUP', 'mpsup', me, 'COUNT', "
	"ARGV[3], 'STREAMS', KEYS[1], '>')\n"
	"local out = {}\n"
	"if not r then return out end\n"
	"for _, e in ipairs(r[1][2]) do\n"
	"  local x, id = e[1], e[2][2]\n"
	"  local jk = pre .. 'j:' .. id\n"
	"  local h = redis.call('HMGET', jk, 's', 'a', 'd', 'c', 'k', 'sub', "
	"'pr', 'g', 'o')\n"
	"  if h[1] ~= 'queued' then\n"
	"    redis.call('XACK', KEYS[1], 'mpsup', x); redis.call('XDEL', "
	"KEYS[1], x)\n"
	"  else\n"
	"    local a = (tonumber(h[2]) or 0) + 1\n"
	"    redis.call('HSET', jk, 's', 'running', 'n', me, 'st', ARGV[4], "
	"'a', a)\n"
	"    out[#out+1] = {id, a, h[3] or '', h[4] or '', h[5] or '', "
	"h[6] or '0', h[7] or '0', h[8] or '', h[9] or ''}\n"
	"  end\n"
	"end\n"
	"return out\n";

/*
 * update: KEYS stream; ARGV prefix, pool, consumer, ttl, then 10 per job:
 * op ("f" finished, "a" a new attempt started here, "r" released: taken
 * but never started, back to the stream), id, attempts, state,
 * result, error, worker, started_at, finished_at, truncated. A job that
 * is no longer this consumer's running attempt is left alone (fenced):
 * returns the ids fenced.
 */
const char queue_redis_lua_update[] =
	"local pre, pool, me, ttl = ARGV[1], ARGV[2], ARGV[3], "
	"tonumber(ARGV[4])\n"
	"local fenced, xs = {}, {}\n"
	"for b = 4, #ARGV - 1, 10 do\n"
	"  local id = ARGV[b+2]\n"
	"  local jk = pre .. 'j:' .. id\n"
	"  local h = redis.call('HMGET', jk, 's', 'a', 'n', 'x', 'o', 'k', "
	"'c')\n"
	"  if h[1] == ARGV[b+4] and h[3] == me and h[2] == ARGV[b+3] then\n"
	"    -- sent again after a lost answer: it is in already\n"
	"  elseif h[1] ~= 'running' or h[3] ~= me then fenced[#fenced+1] = id\n"
	"  elseif ARGV[b+1] == 'a' then redis.call('HSET', jk, 'a', "
	"ARGV[b+3], 'st', ARGV[b+8])\n"
	"  elseif ARGV[b+1] == 'r' then\n"
	"    if h[4] and h[4] ~= '' then redis.call('XACK', KEYS[1], "
	"'mpsup', h[4]); "
	"redis.call('XDEL', KEYS[1], h[4]) end\n"
	"    redis.call('HINCRBY', jk, 'a', -1)\n"
	"    redis.call('HSET', jk, 's', 'queued', 'n', '', 'x', "
	"redis.call('XADD', KEYS[1], '*', 'j', id))\n"
	"    redis.call('PUBLISH', 'mpsup:work', pool)\n"
	"  elseif h[2] ~= ARGV[b+3] then fenced[#fenced+1] = id\n"
	"  else\n"
	"    local s = ARGV[b+4]\n"
	"    local f = {'s', s, 'w', ARGV[b+7], 'st', ARGV[b+8], 'fin', "
	"ARGV[b+9]}\n"
	"    if ARGV[b+5] ~= '' then f[#f+1] = 'r'; f[#f+1] = ARGV[b+5] end\n"
	"    if ARGV[b+6] ~= '' then f[#f+1] = 'e'; f[#f+1] = ARGV[b+6] end\n"
	"    if ARGV[b+10] ~= '0' then f[#f+1] = 't'; f[#f+1] = ARGV[b+10] "
	"end\n"
	"    -- a dead letter keeps its data (it may be retried)\n"
	"    if s ~= 'failed' and s ~= 'timed_out' then f[#f+1] = 'd'; "
	"f[#f+1] = '' end\n"
	"    redis.call('HSET', jk, unpack(f))\n"
	"    if h[4] and h[4] ~= '' then xs[#xs+1] = h[4] end\n"
	"    redis.call('EXPIRE', jk, ttl)\n"
	"    if h[6] and h[6] ~= '' then redis.call('EXPIRE', pre .. 'k:' .. "
	"#h[7] .. ':' .. h[7] .. h[6], ttl) end\n"
	"    local o = h[5] and h[5] ~= '' and h[5] ~= me and h[5]\n"
	"    local ws = redis.call('SMEMBERS', pre .. 'w:' .. id)\n"
	"    if o or #ws > 0 then\n"
	"      local msg = pool .. '\\n' .. id .. '\\n' .. s .. '\\n' .. "
	"ARGV[b+3] .. '\\n' .. ARGV[b+7] .. '\\n' .. ARGV[b+8] .. '\\n' .. "
	"ARGV[b+9] .. '\\n' .. ARGV[b+10] .. '\\n' .. #ARGV[b+5] .. '\\n' "
	".. ARGV[b+5] .. ARGV[b+6]\n"
	"      if o then redis.call('PUBLISH', 'mpsup:done:' .. o, msg) end\n"
	"      for _, c in ipairs(ws) do\n"
	"        if c ~= o and c ~= me then redis.call('PUBLISH', "
	"'mpsup:done:' .. c, msg) end\n"
	"      end\n"
	"      if #ws > 0 then redis.call('DEL', pre .. 'w:' .. id) end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if #xs > 0 then redis.call('XACK', KEYS[1], 'mpsup', unpack(xs)); "
	"redis.call('XDEL', KEYS[1], unpack(xs)) end\n"
	"return fenced\n";

/*
 * cancel: KEYS stream, delayed; ARGV prefix, pool, id, now, ttl, consumer.
 * Returns the state after: "cancelled", "running" (the node running it
 * was told), a terminal state, or "" (no such job).
 */
const char queue_redis_lua_cancel[] =
	LUA_NOTIFY LUA_CLOSE
	"local pre, pool, id = ARGV[1], ARGV[2], ARGV[3]\n"
	"local jk = pre .. 'j:' .. id\n"
	"local h = redis.call('HMGET', jk, 's', 'x', 'n', 'o')\n"
	"if not h[1] then return '' end\n"
	"if h[1] == 'queued' or h[1] == 'delayed' then\n"
	"  if h[1] == 'queued' then redis.call('XDEL', KEYS[1], h[2]) else "
	"redis.call('ZREM', KEYS[2], id) end\n"
	"  redis.call('HSET', jk, 's', 'cancelled', 'fin', ARGV[4])\n"
	"  close(pre, id, tonumber(ARGV[5]), false)\n"
	"  notify(pre, pool, id, h[4], '')\n"
	"  return 'cancelled'\n"
	"elseif h[1] == 'running' then\n"
	"  redis.call('HSET', jk, 'cx', '1')\n"
	"  redis.call('PUBLISH', 'mpsup:cancel:' .. h[3], pool .. '\\n' .. id)\n"
	"end\n"
	"return h[1]\n";

/*
 * promote: KEYS stream, delayed; ARGV prefix, now, pool. Delayed jobs that are
 * due join the stream; returns {moved, the next due time or ""}.
 */
const char queue_redis_lua_promote[] =
	"local pre = ARGV[1]\n"
	"local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], "
	"'LIMIT', 0, 1000)\n"
	"if #ids > 0 and redis.call('EXISTS', KEYS[1]) == 0 then "
	"redis.call('XGROUP', 'CREATE', KEYS[1], 'mpsup', '0', 'MKSTREAM') "
	"end\n"
	"for _, id in ipairs(ids) do\n"
	"  redis.call('ZREM', KEYS[2], id)\n"
	"  local jk = pre .. 'j:' .. id\n"
	"  if redis.call('HGET', jk, 's') == 'delayed' then\n"
	"    redis.call('HSET', jk, 's', 'queued', 'x', redis.call('XADD', "
	"KEYS[1], '*', 'j', id))\n"
	"  end\n"
	"end\n"
	"if #ids > 0 then redis.call('PUBLISH', 'mpsup:work', ARGV[3]) end\n"
	"local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
	"return {#ids, first[2] or ''}\n";

/*
 * fetch: ARGV id, watcher consumer ("": do not watch), pools... The job's
 * {pool, fields...} from the first pool that has it, or {}. A watcher is
 * told when the job ends (see notify).
 */
const char queue_redis_lua_fetch[] =
	"local id, me = ARGV[1], ARGV[2]\n"
	"for i = 3, #ARGV do\n"
	"  local pre = 'mpsup:{' .. ARGV[i] .. '}:'\n"
	"  local h = redis.call('HGETALL', pre .. 'j:' .. id)\n"
	"  if #h > 0 then\n"
	"    local s = redis.call('HGET', pre .. 'j:' .. id, 's')\n"
	"    if me ~= '' and (s == 'queued' or s == 'delayed' or s == "
	"'running') then\n"
	"      redis.call('SADD', pre .. 'w:' .. id, me)\n"
	"      redis.call('EXPIRE', pre .. 'w:' .. id, 86400)\n"
	"    end\n"
	"    table.insert(h, 1, ARGV[i])\n"
	"    return h\n"
	"  end\n"
	"end\n"
	"return {}\n";

/*
 * reap: ARGV me (consumer), my node name, now. Every consumer whose lease
 * ran out, and every earlier boot of my own node, loses its running jobs:
 * back to their stream, or failed when out of attempts (its registry
 * entry says each pool's max_attempts and result_ttl). Returns {jobs
 * requeued, jobs failed, consumers reaped...}.
 */
const char queue_redis_lua_reap[] =
	LUA_NOTIFY LUA_CLOSE
	"local me, node, now = ARGV[1], ARGV[2], ARGV[3]\n"
	"local nodes = redis.call('HGETALL', 'mpsup:nodes')\n"
	"local out = {0, 0}\n"
	"for i = 1, #nodes, 2 do\n"
	"  local c = nodes[i]\n"
	"  local mine = c ~= me and string.sub(c, 1, #node + 1) == node .. "
	"':'\n"
	"  if c ~= me and (mine or redis.call('EXISTS', 'mpsup:lease:' .. "
	"c) == 0) then\n"
	"    local ok, inf = pcall(cjson.decode, nodes[i+1])\n"
	"    local done = true\n"
	"    if ok and type(inf.pools) == 'table' then\n"
	"      for pool, maxa in pairs(inf.pools) do\n"
	"        local pre = 'mpsup:{' .. pool .. '}:'\n"
	"        local sk = pre .. 'q'\n"
	"        if redis.call('EXISTS', sk) == 1 then\n"
	"          local pend = redis.call('XPENDING', sk, 'mpsup', '-', '+', "
	"500, c)\n"
	"          for _, p in ipairs(pend) do\n"
	"            local e = redis.call('XRANGE', sk, p[1], p[1])\n"
	"            redis.call('XACK', sk, 'mpsup', p[1]); redis.call('XDEL', "
	"sk, p[1])\n"
	"            local id = e[1] and e[1][2][2]\n"
	"            local jk = id and pre .. 'j:' .. id\n"
	"            local h = jk and redis.call('HMGET', jk, 's', 'a', 'n', "
	"'o') or {}\n"
	"            if h[1] == 'running' and h[3] == c then\n"
	"              if (tonumber(h[2]) or 0) >= tonumber(maxa) then\n"
	"                redis.call('HSET', jk, 's', 'failed', 'e', 'node ' .. "
	"c .. ' was lost (its lease ran out) on the last attempt', 'fin', "
	"now)\n"
	"                close(pre, id, tonumber(inf.ttl) or 3600, true)\n"
	"                notify(pre, pool, id, h[4], '')\n"
	"                out[2] = out[2] + 1\n"
	"              else\n"
	"                redis.call('HSET', jk, 's', 'queued', 'n', '', 'x', "
	"redis.call('XADD', sk, '*', 'j', id))\n"
	"                out[1] = out[1] + 1\n"
	"                redis.call('PUBLISH', 'mpsup:work', pool)\n"
	"              end\n"
	"            end\n"
	"          end\n"
	"          if #pend < 500 then redis.call('XGROUP', 'DELCONSUMER', "
	"sk, 'mpsup', c) else done = false end\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"    if done then redis.call('HDEL', 'mpsup:nodes', c); "
	"out[#out+1] = c end\n"
	"  end\n"
	"end\n"
	"return out\n";

/*
 * recover: KEYS stream; ARGV prefix, pool, consumer, the ids this node
 * holds. After a reconnect: entries of ours that we never heard of (a
 * claim whose answer was lost) go back to the stream, uncounted.
 */
const char queue_redis_lua_recover[] =
	"local held = {}\n"
	"for i = 4, #ARGV do held[ARGV[i]] = true end\n"
	"if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
	"local pend = redis.call('XPENDING', KEYS[1], 'mpsup', '-', '+', "
	"100000, ARGV[3])\n"
	"local n = 0\n"
	"for _, p in ipairs(pend) do\n"
	"  local e = redis.call('XRANGE', KEYS[1], p[1], p[1])\n"
	"  local id = e[1] and e[1][2][2]\n"
	"  if not id or not held[id] then\n"
	"    redis.call('XACK', KEYS[1], 'mpsup', p[1]); redis.call('XDEL', "
	"KEYS[1], p[1])\n"
	"    local jk = id and ARGV[1] .. 'j:' .. id\n"
	"    local h = jk and redis.call('HMGET', jk, 's', 'n') or {}\n"
	"    if h[1] == 'running' and h[2] == ARGV[3] then\n"
	"      redis.call('HINCRBY', jk, 'a', -1)\n"
	"      redis.call('HSET', jk, 's', 'queued', 'n', '', 'x', "
	"redis.call('XADD', KEYS[1], '*', 'j', id))\n"
	"      n = n + 1\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if n > 0 then redis.call('PUBLISH', 'mpsup:work', ARGV[2]) end\n"
	"return n\n";
