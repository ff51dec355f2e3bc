/*
 * The Redis queue's Lua scripts (see queue_redis.h for the model). Each
 * runs atomically in Redis, so two nodes that race (two submits with one
 * key, two reapers of one dead node, a cancel and a claim) see one order.
 * Redis's cost is per command and per argument, so the common path makes
 * no command per job: a submitted batch is a few stream entries of up to
 * 64 jobs each (QR_ENTRY_MAX), claimed whole; a batch of ends is one
 * HSET per bucket of records.
 *
 * Keys of pool P, all in P's hash slot (pre = "mpsup:{P}:"):
 *   q      the stream, consumer group "mpsup"; an entry is a batch of
 *          jobs {o ORIGIN, i IDS, b BLOBS, k SLOTS}: ORIGIN the consumer
 *          that accepted them (told when each ends), IDS their ids end
 *          to end (16 characters each), BLOBS each job's "LEN\n" and
 *          blob, SLOTS the first 11 hex digits of its ids, each once
 *   e:S    the entries holding ids that start with S (16 ms of ids):
 *          how a job that has not ended is found
 *   d, dj  delayed jobs: ids by due time; ID -> "ORIGIN\nBLOB"
 *   n, u   jobs queued in q, jobs taken by nodes and not ended
 *   r:B    finished records, ID -> REC, one hash per 4096 ms of ids
 *          (B = the id's first 9 hex digits), kept result_ttl after
 *          its last write
 *   rb, rn, rt  the buckets r:B by last write (B -> a count of writes
 *          to the pool's buckets), the records each holds, their sum:
 *          past result_max, the least recently written buckets go
 *          whole, never the two written last (a batch's ids and its
 *          ends often span two buckets, written in turns; keep())
 *   a      attempts started since the job's entry was taken (retries
 *          made where it runs), ID -> count
 *   x      ids cancelled while queued (the claim drops them)
 *   t:X    ids of entry X that ended (or were released) while X lives:
 *          their records may be gone (result_max, result_ttl) before X
 *          is, and X's other jobs still run; a take-back, a fetch and a
 *          cancel treat them as ended. Deleted with X.
 *   w      ID -> " CONSUMER..." nodes waiting for the job's end
 *   k:LEN:CLIENTKEY  an idempotency key: the id
 * Node keys: mpsup:nodes (consumer -> JSON), mpsup:lease:CONSUMER.
 *
 * BLOB (a queued job, made by qr_blob): "A\nSUB\nPR\nNB\nCL\nKL\nGL\n"
 * then the client, key, group and data; A the attempts already made.
 * REC (an ended job, made by qr_rec): "STATE\nA\nWORKER\nSTARTED\n
 * FINISHED\nTRUNC\nSUB\nCL\nRL\nEL\n" then the client, result, error and
 * (failed, timed out) the data. A node is told of ends with "POOL\n"
 * then "ID\nLEN\nREC" per job.
 */
#include "config.h"

#include "store/queue_redis.h"

/* Helpers the scripts share. */

#define LUA_COMMON                                                      \
	"local function bk(pre, id)\n"					\
	"  return pre .. 'r:' .. string.sub(id, 1, 9)\n"		\
	"end\n"								\
	"local tell = {}\n"						\
	"local function told(c, id, rec)\n"				\
	"  local t = tell[c]\n"						\
	"  if not t then t = {}; tell[c] = t end\n"			\
	"  t[#t+1] = id .. '\\n' .. #rec .. '\\n' .. rec\n"		\
	"end\n"								\
	"local function tellall(pool)\n"				\
	"  for c, t in pairs(tell) do\n"				\
	"    redis.call('PUBLISH', 'mpsup:done:' .. c,\n"		\
	"      pool .. '\\n' .. table.concat(t))\n"			\
	"  end\n"							\
	"  tell = {}\n"							\
	"end\n"								\
	"local function blob(b)\n"					\
	"  local a, sub, pr, nb, cl, kl, gl, p = string.match(b,\n"	\
	"    '^(%d+)\\n([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n(%d+)\\n(%d+)\\n(%d+)\\n()')\n"	\
	"  if not a then return nil end\n"				\
	"  cl, kl, gl = tonumber(cl), tonumber(kl), tonumber(gl)\n"	\
	"  return {a = tonumber(a), sub = sub, at = #a,\n"		\
	"    client = string.sub(b, p, p + cl - 1),\n"			\
	"    key = string.sub(b, p + cl, p + cl + kl - 1),\n"		\
	"    data = string.sub(b, p + cl + kl + gl)}\n"			\
	"end\n"								\
	"local function rec(st, a, now, j, err, keep)\n"		\
	"  return table.concat({st, a, '-1', '0', now, '0', j.sub,\n"	\
	"    #j.client, 0, #err}, '\\n') .. '\\n' .. j.client .. err ..\n"	\
	"    (keep and j.data or '')\n"					\
	"end\n"								\
	"local function keyttl(pre, j, ttl)\n"				\
	"  if j.key ~= '' then\n"					\
	"    redis.call('EXPIRE', pre .. 'k:' .. #j.client .. ':' ..\n"	\
	"      j.client .. j.key, ttl)\n"				\
	"  end\n"							\
	"end\n"								\
	"local function watchers(pre, ids, recs)\n"			\
	"  if #ids == 0 or redis.call('EXISTS', pre .. 'w') == 0 then\n"	\
	"    return\n"							\
	"  end\n"							\
	"  local ws = redis.call('HMGET', pre .. 'w', unpack(ids))\n"	\
	"  local gone = {}\n"						\
	"  for i, s in ipairs(ws) do\n"					\
	"    if s then\n"						\
	"      for c in string.gmatch(s, '%S+') do told(c, ids[i], recs[i]) end\n"	\
	"      gone[#gone+1] = ids[i]\n"				\
	"    end\n"							\
	"  end\n"							\
	"  if #gone > 0 then redis.call('HDEL', pre .. 'w', unpack(gone)) end\n"	\
	"end\n"								\
	"local function keep(pre, k, t, ttl, rmax)\n"			\
	"  local n = redis.call('HSET', k, unpack(t))\n"		\
	"  redis.call('EXPIRE', k, ttl)\n"				\
	"  local b, rb = string.sub(k, #pre + 3), pre .. 'rb'\n"	\
	"  local top = redis.call('ZRANGE', rb, -1, -1, 'WITHSCORES')\n"	\
	"  redis.call('ZADD', rb, (tonumber(top[2]) or 0) + 1, b)\n"	\
	"  if n > 0 then\n"						\
	"    redis.call('HINCRBY', pre .. 'rn', b, n)\n"		\
	"    local tot = redis.call('INCRBY', pre .. 'rt', n)\n"	\
	"    while tot > rmax and redis.call('ZCARD', rb) > 2 do\n"	\
	"      local old = redis.call('ZRANGE', rb, 0, 0)[1]\n"	\
	"      local c = tonumber(redis.call('HGET', pre .. 'rn', old) or '0')\n"	\
	"      redis.call('UNLINK', pre .. 'r:' .. old)\n"		\
	"      redis.call('HDEL', pre .. 'rn', old)\n"			\
	"      redis.call('ZREM', rb, old)\n"				\
	"      tot = redis.call('DECRBY', pre .. 'rt', c)\n"		\
	"    end\n"							\
	"  end\n"							\
	"  for _, x in ipairs({'rb', 'rn', 'rt'}) do\n"		\
	"    redis.call('EXPIRE', pre .. x, ttl)\n"			\
	"  end\n"							\
	"end\n"								\
	"local function split(f)\n"					\
	"  local ids, bs, ib, bb = {}, {}, nil, nil\n"			\
	"  for i = 1, #f - 1, 2 do\n"					\
	"    if f[i] == 'i' then ib = f[i+1] elseif f[i] == 'b' then bb = f[i+1] end\n"	\
	"  end\n"							\
	"  if not ib or not bb then return ids, bs end\n"		\
	"  local p = 1\n"						\
	"  for k = 1, #ib - 15, 16 do\n"				\
	"    local len, q = string.match(bb, '^(%d+)\\n()', p)\n"	\
	"    if not len then break end\n"				\
	"    len = tonumber(len)\n"					\
	"    ids[#ids+1] = string.sub(ib, k, k + 15)\n"			\
	"    bs[#bs+1] = string.sub(bb, q, q + len - 1)\n"		\
	"    p = q + len\n"						\
	"  end\n"							\
	"  return ids, bs\n"						\
	"end\n"								\
	"local function frame(ids, bs)\n"				\
	"  local t = {}\n"						\
	"  for k = 1, #bs do t[#t+1] = #bs[k] .. '\\n'; t[#t+1] = bs[k] end\n"	\
	"  return table.concat(ids), table.concat(t)\n"			\
	"end\n"								\
	"local function slots(ids)\n"					\
	"  local t, seen = {}, {}\n"					\
	"  for k = 1, #ids do\n"					\
	"    local s = string.sub(ids[k], 1, 11)\n"			\
	"    if not seen[s] then seen[s] = true; t[#t+1] = s end\n"	\
	"  end\n"							\
	"  return table.concat(t)\n"					\
	"end\n"								\
	"local function index(pre, x, ks, op)\n"			\
	"  for p = 1, #ks - 10, 11 do\n"				\
	"    redis.call(op, pre .. 'e:' .. string.sub(ks, p, p + 10), x)\n"	\
	"  end\n"							\
	"end\n"								\
	"local function add(sk, pre, o, ids, bs)\n"			\
	"  local i, b = frame(ids, bs)\n"				\
	"  local ks = slots(ids)\n"					\
	"  local x = redis.call('XADD', sk, '*', 'o', o, 'i', i, 'b', b,\n"	\
	"    'k', ks)\n"						\
	"  index(pre, x, ks, 'SADD')\n"					\
	"  return x\n"							\
	"end\n"								\
	"local function field(f, name)\n"				\
	"  for i = 1, #f - 1, 2 do if f[i] == name then return f[i+1] end end\n"	\
	"  return nil\n"						\
	"end\n"								\
	"local function put(by, o, id, b)\n"				\
	"  local t = by[o]\n"						\
	"  if not t then t = {ids = {}, bs = {}}; by[o] = t end\n"	\
	"  t.ids[#t.ids+1] = id\n"					\
	"  t.bs[#t.bs+1] = b\n"						\
	"end\n"								\
	"local function readd(sk, pre, by, pool)\n"			\
	"  local n = 0\n"						\
	"  for o, t in pairs(by) do\n"					\
	"    for s = 1, #t.ids, 64 do\n"				\
	"      local ids, bs = {}, {}\n"				\
	"      for k = s, math.min(s + 63, #t.ids) do\n"		\
	"        ids[#ids+1] = t.ids[k]; bs[#bs+1] = t.bs[k]\n"		\
	"      end\n"							\
	"      add(sk, pre, o, ids, bs)\n"				\
	"    end\n"							\
	"    n = n + #t.ids\n"						\
	"  end\n"							\
	"  if n > 0 then\n"						\
	"    redis.call('INCRBY', pre .. 'n', n)\n"			\
	"    redis.call('PUBLISH', 'mpsup:work', pool)\n"		\
	"  end\n"							\
	"  return n\n"							\
	"end\n"								\
	"local function find(pre, id)\n"				\
	"  local sk = pre .. 'q'\n"					\
	"  for _, x in ipairs(redis.call('SMEMBERS', pre .. 'e:' ..\n"	\
	"    string.sub(id, 1, 11))) do\n"				\
	"    local e = redis.call('XRANGE', sk, x, x)\n"		\
	"    if e[1] then\n"						\
	"      local ids, bs = split(e[1][2])\n"			\
	"      for k = 1, #ids do\n"					\
	"        if ids[k] == id then return bs[k], field(e[1][2], 'o'), x end\n"	\
	"      end\n"							\
	"    end\n"							\
	"  end\n"							\
	"  return nil\n"						\
	"end\n"

/*
 * submit: KEYS stream, delayed; ARGV prefix, pool, max_queue, now,
 * consumer, then 5 per entry: IDS, BLOBS, SLOTS (as in an entry), ""
 * or, for an entry of one job, "NOT_BEFORE\nKEYNAME" (its key's name ""
 * for none, else LEN:CLIENTKEY), and "1" when the entry starts a unit,
 * else "". A unit is one request's jobs (with those of the requests an
 * entry joins it to): all of them are taken or, if the new jobs would
 * pass max_queue, none. Ids are unique by construction (each live node
 * has its own number). Returns how many jobs were accepted when all
 * were, else per job: "" accepted, "=ID" its key's job, "!queue_full".
 */

const char queue_redis_lua_submit[] =
	LUA_COMMON
	"local pre, pool, maxq, now, me = ARGV[1], ARGV[2],\n"
	"  tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]\n"
	"if #ARGV < 10 then return {} end\n"
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  redis.call('XGROUP', 'CREATE', KEYS[1], 'mpsup', '0', 'MKSTREAM')\n"
	"end\n"
	"local depth = tonumber(redis.call('GET', pre .. 'n') or '0') +\n"
	"  redis.call('ZCARD', KEYS[2])\n"
	"local function keyname(ex)\n"
	"  if ex == '' then return 0, '' end\n"
	"  local t, k = string.match(ex, '^([^\\n]*)\\n(.*)$')\n"
	"  return tonumber(t) or 0, k or ''\n"
	"end\n"
	"-- Past max_queue if every job were new: which units fit (the\n"
	"-- new jobs of each; a key already known adds none).\n"
	"local all, fits = 0, nil\n"
	"for b = 6, #ARGV - 4, 5 do all = all + #ARGV[b] / 16 end\n"
	"if depth + all > maxq then\n"
	"  local adds, seen, u = {}, {}, 0\n"
	"  fits = {}\n"
	"  for b = 6, #ARGV - 4, 5 do\n"
	"    if ARGV[b+4] ~= '' or u == 0 then u = u + 1; adds[u] = 0 end\n"
	"    fits[b] = u\n"
	"    local _, kk = keyname(ARGV[b+3])\n"
	"    local cnt = math.floor(#ARGV[b] / 16)\n"
	"    if kk ~= '' then\n"
	"      if seen[kk] or redis.call('EXISTS', pre .. 'k:' .. kk) == 1 then\n"
	"        cnt = 0\n"
	"      end\n"
	"      seen[kk] = true\n"
	"    end\n"
	"    adds[u] = adds[u] + cnt\n"
	"  end\n"
	"  for k = 1, u do\n"
	"    local ok = depth + adds[k] <= maxq\n"
	"    if ok then depth = depth + adds[k] end\n"
	"    adds[k] = ok\n"
	"  end\n"
	"  for b, k in pairs(fits) do fits[b] = adds[k] end\n"
	"end\n"
	"local out, nq = {}, 0\n"
	"for b = 6, #ARGV - 4, 5 do\n"
	"  local ib, bb, ks, ex = ARGV[b], ARGV[b+1], ARGV[b+2], ARGV[b+3]\n"
	"  local cnt = math.floor(#ib / 16)\n"
	"  if fits and not fits[b] then\n"
	"    for k = 1, cnt do out[#out+1] = '!queue_full' end\n"
	"  elseif ex == '' then\n"
	"    local x = redis.call('XADD', KEYS[1], '*', 'o', me, 'i', ib,\n"
	"      'b', bb, 'k', ks)\n"
	"    index(pre, x, ks, 'SADD')\n"
	"    for k = 1, cnt do out[#out+1] = '' end\n"
	"    nq = nq + cnt\n"
	"  else\n"
	"    local sids, sbs = split({'i', ib, 'b', bb})\n"
	"    local nb, kk = keyname(ex)\n"
	"    local ki, kb = {}, {}\n"
	"    for k = 1, #sids do\n"
	"      local id, old = sids[k], nil\n"
	"      if kk ~= '' then old = redis.call('GET', pre .. 'k:' .. kk) end\n"
	"      if old then out[#out+1] = '=' .. old\n"
	"      else\n"
	"        if kk ~= '' then redis.call('SET', pre .. 'k:' .. kk, id) end\n"
	"        if nb > now then\n"
	"          redis.call('ZADD', KEYS[2], nb, id)\n"
	"          redis.call('HSET', pre .. 'dj', id, me .. '\\n' .. sbs[k])\n"
	"        else\n"
	"          ki[#ki+1] = id; kb[#kb+1] = sbs[k]; nq = nq + 1\n"
	"        end\n"
	"        out[#out+1] = ''\n"
	"      end\n"
	"    end\n"
	"    if #ki > 0 then add(KEYS[1], pre, me, ki, kb) end\n"
	"  end\n"
	"end\n"
	"if nq > 0 then\n"
	"  redis.call('INCRBY', pre .. 'n', nq)\n"
	"  redis.call('PUBLISH', 'mpsup:work', pool)\n"
	"end\n"
	"for k = 1, #out do if out[k] ~= '' then return out end end\n"
	"return #out\n";

/*
 * claim: KEYS stream; ARGV prefix, consumer, jobs wanted. Whole entries
 * are taken until that many jobs (the last may hold more). Per entry:
 * {entry, its fields}, without the jobs cancelled while queued.
 */

const char queue_redis_lua_claim[] =
	LUA_COMMON
	"local pre, me, want = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
	"if redis.call('EXISTS', KEYS[1]) == 0 then return {} end\n"
	"local cx = redis.call('EXISTS', pre .. 'x') == 1\n"
	"local out, n = {}, 0\n"
	"for round = 1, 8 do\n"
	"  if n >= want then break end\n"
	"  local c = math.ceil((want - n) / 64)\n"
	"  local r = redis.call('XREADGROUP', 'GROUP', 'mpsup', me,\n"
	"    'COUNT', c, 'STREAMS', KEYS[1], '>')\n"
	"  if not r then break end\n"
	"  local es = r[1][2]\n"
	"  for _, e in ipairs(es) do\n"
	"    local f = e[2]\n"
	"    if cx then\n"
	"      local ids, bs = split(f)\n"
	"      local ki, kb = {}, {}\n"
	"      for k = 1, #ids do\n"
	"        if redis.call('SREM', pre .. 'x', ids[k]) == 0 then\n"
	"          ki[#ki+1] = ids[k]; kb[#kb+1] = bs[k]\n"
	"        end\n"
	"      end\n"
	"      local i, b = frame(ki, kb)\n"
	"      f = {'o', f[2], 'i', i, 'b', b, 'k', field(f, 'k') or ''}\n"
	"    end\n"
	"    local cnt = math.floor(#f[4] / 16)\n"
	"    if cnt == 0 then\n"
	"      redis.call('XACK', KEYS[1], 'mpsup', e[1])\n"
	"      redis.call('XDEL', KEYS[1], e[1])\n"
	"      index(pre, e[1], field(f, 'k') or '', 'SREM')\n"
	"    else\n"
	"      out[#out+1] = {e[1], f}\n"
	"      n = n + cnt\n"
	"    end\n"
	"  end\n"
	"  if #es < c then break end\n"
	"end\n"
	"if n > 0 then\n"
	"  redis.call('DECRBY', pre .. 'n', n)\n"
	"  redis.call('INCRBY', pre .. 'u', n)\n"
	"end\n"
	"return out\n";

/*
 * update: KEYS stream; ARGV prefix, pool, consumer, ttl, again ("1":
 * sent again after a lost answer), result_max, then groups of jobs of
 * one entry, op and bucket: entry, origin, done (the entry's SLOTS when it has
 * nothing left here after this group, else ""), op, key name (groups
 * of one keyed job), the
 * bucket (the ids' first 9 hex digits), count; then 2 per job: id,
 * value. Ops: "f" finished (value: REC), "a" a new attempt started here
 * (value: attempts), "r" released, taken but never started (value: its
 * BLOB), back to the stream. A job whose entry is no longer this
 * consumer's (its lease ran out, it was taken over) is left alone
 * (fenced): returns the ids fenced.
 */

const char queue_redis_lua_update[] =
	LUA_COMMON
	"local pre, pool, me, ttl, again, rmax = ARGV[1], ARGV[2], ARGV[3],\n"
	"  tonumber(ARGV[4]), ARGV[5] == '1', tonumber(ARGV[6])\n"
	"local owned, recs, ids, vals, back, acks, fenced, gone =\n"
	"  {}, {}, {}, {}, {}, {}, {}, {}\n"
	"local nu = 0\n"
	"-- Lists of the ended jobs only when someone needs them.\n"
	"local kept = redis.call('EXISTS', pre .. 'a') == 1 or\n"
	"  redis.call('EXISTS', pre .. 'w') == 1\n"
	"local function own(x)\n"
	"  local o = owned[x]\n"
	"  if o == nil then\n"
	"    local p = redis.call('XPENDING', KEYS[1], 'mpsup', x, x, 1)\n"
	"    o = p[1] ~= nil and p[1][2] == me\n"
	"    owned[x] = o\n"
	"  end\n"
	"  return o\n"
	"end\n"
	"local b = 7\n"
	"while b + 6 <= #ARGV do\n"
	"  local x, o, done, op, kk = ARGV[b], ARGV[b+1], ARGV[b+2],\n"
	"    ARGV[b+3], ARGV[b+4]\n"
	"  local k, cnt = pre .. 'r:' .. ARGV[b+5], tonumber(ARGV[b+6])\n"
	"  local mine = own(x)\n"
	"  b = b + 7\n"
	"  for i = 1, cnt do\n"
	"    local id, v = ARGV[b], ARGV[b+1]\n"
	"    b = b + 2\n"
	"    if again and op == 'f' and redis.call('HEXISTS', k, id) == 1 then\n"
	"      -- in already\n"
	"    elseif not mine then\n"
	"      if op ~= 'a' then fenced[#fenced+1] = id end\n"
	"    elseif op == 'a' then\n"
	"      redis.call('HSET', pre .. 'a', id, v)\n"
	"      kept = true\n"
	"    else\n"
	"      if op == 'f' then\n"
	"        local t = recs[k]\n"
	"        if not t then t = {}; recs[k] = t end\n"
	"        t[#t+1] = id; t[#t+1] = v\n"
	"        if kept then ids[#ids+1] = id; vals[#vals+1] = v end\n"
	"        if o ~= me and o ~= '' then told(o, id, v) end\n"
	"      else\n"
	"        put(back, o, id, v)\n"
	"      end\n"
	"      nu = nu + 1\n"
	"      if done == '' and gone[x] ~= false then\n"
	"        local g = gone[x]\n"
	"        if not g then g = {}; gone[x] = g end\n"
	"        g[#g+1] = id\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  if mine and op == 'f' and kk ~= '' then\n"
	"    redis.call('EXPIRE', pre .. 'k:' .. kk, ttl)\n"
	"  end\n"
	"  if done ~= '' and mine then\n"
	"    acks[#acks+1] = x\n"
	"    index(pre, x, done, 'SREM')\n"
	"    gone[x] = false\n"
	"  end\n"
	"end\n"
	"local tks = {}\n"
	"for x, g in pairs(gone) do\n"
	"  if g then redis.call('SADD', pre .. 't:' .. x, unpack(g))\n"
	"  else tks[#tks+1] = pre .. 't:' .. x end\n"
	"end\n"
	"if #tks > 0 then redis.call('DEL', unpack(tks)) end\n"
	"for k, t in pairs(recs) do keep(pre, k, t, ttl, rmax) end\n"
	"if #ids > 0 then\n"
	"  if redis.call('EXISTS', pre .. 'a') == 1 then\n"
	"    redis.call('HDEL', pre .. 'a', unpack(ids))\n"
	"  end\n"
	"  watchers(pre, ids, vals)\n"
	"end\n"
	"readd(KEYS[1], pre, back, pool)\n"
	"if nu > 0 then redis.call('DECRBY', pre .. 'u', nu) end\n"
	"if #acks > 0 then\n"
	"  redis.call('XACK', KEYS[1], 'mpsup', unpack(acks))\n"
	"  redis.call('XDEL', KEYS[1], unpack(acks))\n"
	"end\n"
	"tellall(pool)\n"
	"return fenced\n";

/*
 * cancel: KEYS stream, delayed; ARGV prefix, pool, id, now, ttl,
 * result_max.
 * Returns the state after: "cancelled", "running" (the node holding it
 * was told), a terminal state, or "" (no such job).
 */

const char queue_redis_lua_cancel[] =
	LUA_COMMON
	"local pre, pool, id, now, ttl, rmax = ARGV[1], ARGV[2], ARGV[3],\n"
	"  ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])\n"
	"local k = bk(pre, id)\n"
	"local old = redis.call('HGET', k, id)\n"
	"if old then return string.match(old, '^[^\\n]*') end\n"
	"local b, o, x\n"
	"local v = redis.call('HGET', pre .. 'dj', id)\n"
	"if v then\n"
	"  o, b = string.match(v, '^([^\\n]*)\\n(.*)$')\n"
	"  redis.call('ZREM', KEYS[2], id)\n"
	"  redis.call('HDEL', pre .. 'dj', id)\n"
	"else\n"
	"  b, o, x = find(pre, id)\n"
	"  if not b or redis.call('SISMEMBER', pre .. 't:' .. x, id) == 1 then\n"
	"    return ''\n"
	"  end\n"
	"  local p = redis.call('XPENDING', KEYS[1], 'mpsup', x, x, 1)\n"
	"  if p[1] then\n"
	"    redis.call('PUBLISH', 'mpsup:cancel:' .. p[1][2],\n"
	"      pool .. '\\n' .. id)\n"
	"    return 'running'\n"
	"  end\n"
	"  redis.call('SADD', pre .. 'x', id)\n"
	"  redis.call('DECR', pre .. 'n')\n"
	"end\n"
	"local j = b and blob(b)\n"
	"if not j then return '' end\n"
	"local r = rec('cancelled', j.a, now, j, '', false)\n"
	"keep(pre, k, {id, r}, ttl, rmax)\n"
	"keyttl(pre, j, ttl)\n"
	"if o and o ~= '' then told(o, id, r) end\n"
	"watchers(pre, {id}, {r})\n"
	"tellall(pool)\n"
	"return 'cancelled'\n";

/*
 * promote: KEYS stream, delayed; ARGV prefix, now, pool. Delayed jobs
 * that are due join the stream; returns {moved, the next due time or
 * ""}.
 */

const char queue_redis_lua_promote[] =
	LUA_COMMON
	"local pre = ARGV[1]\n"
	"local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2],\n"
	"  'LIMIT', 0, 1000)\n"
	"if #ids > 0 and redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  redis.call('XGROUP', 'CREATE', KEYS[1], 'mpsup', '0', 'MKSTREAM')\n"
	"end\n"
	"local by = {}\n"
	"for _, id in ipairs(ids) do\n"
	"  redis.call('ZREM', KEYS[2], id)\n"
	"  local v = redis.call('HGET', pre .. 'dj', id)\n"
	"  local o, b = string.match(v or '', '^([^\\n]*)\\n(.*)$')\n"
	"  if b then put(by, o, id, b) end\n"
	"end\n"
	"if #ids > 0 then redis.call('HDEL', pre .. 'dj', unpack(ids)) end\n"
	"readd(KEYS[1], pre, by, ARGV[3])\n"
	"local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
	"return {#ids, first[2] or ''}\n";

/*
 * fetch: ARGV id, watcher consumer ("": do not watch), pools... From the
 * first pool that has the job: {pool, "r", REC} when it ended, {pool,
 * STATE, BLOB, the consumer holding it or "", attempts} when not; or
 * {}. A watcher is told when the job ends.
 */

const char queue_redis_lua_fetch[] =
	LUA_COMMON
	"local id, me = ARGV[1], ARGV[2]\n"
	"for i = 3, #ARGV do\n"
	"  local pool = ARGV[i]\n"
	"  local pre = 'mpsup:{' .. pool .. '}:'\n"
	"  local r = redis.call('HGET', bk(pre, id), id)\n"
	"  if r then return {pool, 'r', r} end\n"
	"  local b, st, who, a = nil, 'queued', '', 0\n"
	"  local v = redis.call('HGET', pre .. 'dj', id)\n"
	"  if v then\n"
	"    b = string.match(v, '^[^\\n]*\\n(.*)$')\n"
	"    st = 'delayed'\n"
	"  else\n"
	"    local x\n"
	"    b, who, x = find(pre, id)\n"
	"    who = ''\n"
	"    if b and redis.call('SISMEMBER', pre .. 't:' .. x, id) == 1 then\n"
	"      b = nil\n"
	"    end\n"
	"    if b then\n"
	"      local p = redis.call('XPENDING', pre .. 'q', 'mpsup', x, x, 1)\n"
	"      if p[1] then st = 'running'; who = p[1][2] end\n"
	"    end\n"
	"  end\n"
	"  local j = b and blob(b)\n"
	"  if j then\n"
	"    a = j.a\n"
	"    if st == 'running' then\n"
	"      a = math.max(a + 1,\n"
	"        tonumber(redis.call('HGET', pre .. 'a', id) or '0'))\n"
	"    end\n"
	"    if me ~= '' then\n"
	"      local w = redis.call('HGET', pre .. 'w', id) or ''\n"
	"      if not string.find(w, ' ' .. me, 1, true) then\n"
	"        redis.call('HSET', pre .. 'w', id, w .. ' ' .. me)\n"
	"      end\n"
	"    end\n"
	"    return {pool, st, b, who, a}\n"
	"  end\n"
	"end\n"
	"return {}\n";

/*
 * Take back the unfinished jobs of entry x of pool's stream sk: counted
 * (an attempt ran: failed past maxa) or not (they never reached a
 * worker). Returns jobs put back, jobs failed, jobs that were held.
 */

#define LUA_TAKEBACK                                                    \
	"local function takeback(sk, pre, pool, x, count, maxa, now, ttl, rmax,\n"	\
	"    why)\n"							\
	"  local e = redis.call('XRANGE', sk, x, x)\n"			\
	"  redis.call('XACK', sk, 'mpsup', x)\n"			\
	"  redis.call('XDEL', sk, x)\n"					\
	"  local tk, gone = pre .. 't:' .. x, {}\n"			\
	"  for _, v in ipairs(redis.call('SMEMBERS', tk)) do gone[v] = true end\n"	\
	"  redis.call('DEL', tk)\n"					\
	"  if not e[1] then return 0, 0, 0 end\n"			\
	"  local f = e[1][2]\n"						\
	"  index(pre, x, field(f, 'k') or '', 'SREM')\n"		\
	"  local o, by, nf, held = field(f, 'o') or '', {}, 0, 0\n"	\
	"  local ids, bs = split(f)\n"					\
	"  for k = 1, #ids do\n"					\
	"    local id, j = ids[k], blob(bs[k])\n"			\
	"    if j and not gone[id] and\n"				\
	"      redis.call('HEXISTS', bk(pre, id), id) == 0 then\n"	\
	"      held = held + 1\n"					\
	"      local a = j.a\n"						\
	"      if count then\n"						\
	"        a = math.max(a + 1,\n"					\
	"          tonumber(redis.call('HGET', pre .. 'a', id) or '0'))\n"	\
	"      end\n"							\
	"      redis.call('HDEL', pre .. 'a', id)\n"			\
	"      if a >= maxa and count then\n"				\
	"        local r = rec('failed', a, now, j, why, true)\n"	\
	"        keep(pre, bk(pre, id), {id, r}, ttl, rmax)\n"		\
	"        keyttl(pre, j, ttl)\n"					\
	"        if o ~= '' then told(o, id, r) end\n"			\
	"        watchers(pre, {id}, {r})\n"				\
	"        nf = nf + 1\n"						\
	"      else\n"							\
	"        put(by, o, id, a .. string.sub(bs[k], j.at + 1))\n"	\
	"      end\n"							\
	"    end\n"							\
	"  end\n"							\
	"  if held > 0 then redis.call('DECRBY', pre .. 'u', held) end\n"	\
	"  return readd(sk, pre, by, pool), nf, held\n"			\
	"end\n"

/*
 * reap: ARGV me (consumer), my node name, now. Every consumer whose
 * lease ran out, and every earlier boot of my own node, loses the jobs
 * it held: back to their stream, or failed when out of attempts (its
 * registry entry says each pool's max_attempts, result_ttl and
 * result_max). Returns
 * {jobs requeued, jobs failed, consumers reaped...}.
 */

const char queue_redis_lua_reap[] =
	LUA_COMMON LUA_TAKEBACK
	"local me, node, now = ARGV[1], ARGV[2], ARGV[3]\n"
	"local nodes = redis.call('HGETALL', 'mpsup:nodes')\n"
	"local out = {0, 0}\n"
	"for i = 1, #nodes, 2 do\n"
	"  local c = nodes[i]\n"
	"  local mine = c ~= me and string.sub(c, 1, #node + 1) == node .. ':'\n"
	"  if c ~= me and (mine or\n"
	"    redis.call('EXISTS', 'mpsup:lease:' .. c) == 0) then\n"
	"    local ok, inf = pcall(cjson.decode, nodes[i+1])\n"
	"    local done = true\n"
	"    if ok and type(inf) == 'table' and type(inf.pools) == 'table' then\n"
	"      for pool, maxa in pairs(inf.pools) do\n"
	"        local pre = 'mpsup:{' .. tostring(pool) .. '}:'\n"
	"        local sk = pre .. 'q'\n"
	"        if type(pool) == 'string' and\n"
	"          redis.call('EXISTS', sk) == 1 then\n"
	"          local pend = redis.call('XPENDING', sk, 'mpsup', '-', '+',\n"
	"            100, c)\n"
	"          for _, p in ipairs(pend) do\n"
	"            local back, nf = takeback(sk, pre, pool, p[1], true,\n"
	"              tonumber(maxa) or 1, now, tonumber(inf.ttl) or 3600,\n"
	"              tonumber(inf.rmax) or 100000,\n"
	"              'node ' .. c .. ' was lost (its lease ran out) on the ' ..\n"
	"              'last attempt')\n"
	"            out[1] = out[1] + back\n"
	"            out[2] = out[2] + nf\n"
	"          end\n"
	"          tellall(pool)\n"
	"          if #pend < 100 then\n"
	"            redis.call('XGROUP', 'DELCONSUMER', sk, 'mpsup', c)\n"
	"          else\n"
	"            done = false\n"
	"          end\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"    if done then\n"
	"      redis.call('HDEL', 'mpsup:nodes', c)\n"
	"      out[#out+1] = c\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return out\n";

/*
 * recover: KEYS stream; ARGV prefix, pool, consumer, the entries this
 * node holds. After a reconnect: entries of ours that we never heard of
 * (a claim whose answer was lost) go back to the stream, uncounted.
 */

const char queue_redis_lua_recover[] =
	LUA_COMMON LUA_TAKEBACK
	"local held = {}\n"
	"for i = 4, #ARGV do held[ARGV[i]] = true end\n"
	"if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
	"local pend = redis.call('XPENDING', KEYS[1], 'mpsup', '-', '+',\n"
	"  100000, ARGV[3])\n"
	"local n = 0\n"
	"for _, p in ipairs(pend) do\n"
	"  if not held[p[1]] then\n"
	"    n = n + takeback(KEYS[1], ARGV[1], ARGV[2], p[1], false, 1, '0',\n"
	"      1, 0, '')\n"
	"  end\n"
	"end\n"
	"return n\n";

/*
 * number: ARGV consumer, lease (ms). This node's number (0-255, the last
 * 8 bits of its ids but 8), one that no live node holds; -1 if all are.
 */

const char queue_redis_lua_number[] =
	"local n = redis.call('INCR', 'mpsup:nodeseq')\n"
	"for i = 0, 255 do\n"
	"  local k = (n + i) % 256\n"
	"  if redis.call('SET', 'mpsup:num:' .. k, ARGV[1], 'NX', 'PX',\n"
	"    ARGV[2]) then\n"
	"    return k\n"
	"  end\n"
	"end\n"
	"return -1\n";

/*
 * keepnum: ARGV number, consumer, lease (ms). 1 while the number is
 * still this node's (renewed), 0 if another node took it meanwhile.
 */

const char queue_redis_lua_keepnum[] =
	"local key = 'mpsup:num:' .. ARGV[1]\n"
	"local v = redis.call('GET', key)\n"
	"if v and v ~= ARGV[2] then return 0 end\n"
	"redis.call('SET', key, ARGV[2], 'PX', ARGV[3])\n"
	"return 1\n";
