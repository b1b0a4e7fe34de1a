package index

import "github.com/redis/go-redis/v9"

// The Lua scripts of the Redis store. Each write of a work and its change is one script, so
// it is atomic and isolated. Redis does not roll a script back when a command in it fails, so
// every script reads and checks first (existence, then the type of every key it will write)
// and writes last, starting with INCR of the sequence: if that or the XADD after it fails,
// nothing of the work has been written (at most the sequence moved, leaving a gap in Seq).
// All keys are passed in KEYS and share one hash tag.

// luaCheckTypes returns an error message if a key exists with another type than wanted.
const luaCheckTypes = `
local function checktypes(...)
  for _, kv in ipairs({...}) do
    local t = redis.call('TYPE', kv[1])['ok']
    if t ~= 'none' and t ~= kv[2] then
      return 'WRONGTYPE key ' .. kv[1] .. ' holds a ' .. t .. ', want a ' .. kv[2]
    end
  end
  return nil
end
`

// createWorkScript stores a new work and appends its put change.
//
//	KEYS: 1 work, 2 sha, 3 ids, 4 creator, 5 seq, 6 feed
//	ARGV: 1 id, 2 sha, 3 creator, 4 meta JSON, 5 fingerprint, 6 thumbnail ("" for none),
//	      7 disabled ("0" or "1"), 8 change time (unix ms)
//	returns {"created", seq} | {"exists", id of the work with that sha} | {"id_taken"}
var createWorkScript = redis.NewScript(luaCheckTypes + `
local owner = redis.call('GET', KEYS[2])
if owner then return {'exists', owner} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'id_taken'} end
local err = checktypes({KEYS[3], 'zset'}, {KEYS[4], 'zset'}, {KEYS[5], 'string'}, {KEYS[6], 'stream'})
if err then return redis.error_reply(err) end
local seq = redis.call('INCR', KEYS[5])
redis.call('XADD', KEYS[6], string.format('%d-0', seq), 'op', 'put', 'work', ARGV[1],
  'creator', ARGV[3], 'disabled', ARGV[7], 'at', ARGV[8], 'fp', ARGV[5])
local fields = {'meta', ARGV[4], 'fp', ARGV[5], 'creator', ARGV[3], 'sha', ARGV[2], 'disabled', ARGV[7]}
if ARGV[6] ~= '' then
  fields[#fields + 1] = 'thumb'
  fields[#fields + 1] = ARGV[6]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
return {'created', seq}
`)

// setDisabledScript disables or enables a work and appends its change, unless the work is
// already in that state.
//
//	KEYS: 1 work, 2 seq, 3 feed
//	ARGV: 1 id, 2 disabled ("0" or "1"), 3 change time (unix ms)
//	returns {"changed", seq} | {"unchanged"} | {"not_found"}
var setDisabledScript = redis.NewScript(luaCheckTypes + `
local f = redis.call('HMGET', KEYS[1], 'disabled', 'creator', 'fp')
if not f[2] then return {'not_found'} end
if f[1] == ARGV[2] then return {'unchanged'} end
local err = checktypes({KEYS[2], 'string'}, {KEYS[3], 'stream'})
if err then return redis.error_reply(err) end
local seq = redis.call('INCR', KEYS[2])
if ARGV[2] == '1' then
  redis.call('XADD', KEYS[3], string.format('%d-0', seq), 'op', 'disable', 'work', ARGV[1],
    'creator', f[2], 'disabled', '1', 'at', ARGV[3])
else
  redis.call('XADD', KEYS[3], string.format('%d-0', seq), 'op', 'enable', 'work', ARGV[1],
    'creator', f[2], 'disabled', '0', 'at', ARGV[3], 'fp', f[3])
end
redis.call('HSET', KEYS[1], 'disabled', ARGV[2])
return {'changed', seq}
`)

// deleteWorkScript removes a work and its indexes and appends its delete change. The caller
// read the work's creator and sha to name their keys; if they no longer match (the id was
// deleted and reused meanwhile) the script asks it to retry.
//
//	KEYS: 1 work, 2 sha, 3 ids, 4 creator, 5 seq, 6 feed
//	ARGV: 1 id, 2 creator, 3 sha, 4 change time (unix ms)
//	returns {"deleted", seq} | {"not_found"} | {"retry"}
var deleteWorkScript = redis.NewScript(luaCheckTypes + `
local f = redis.call('HMGET', KEYS[1], 'creator', 'sha')
if not f[1] then return {'not_found'} end
if f[1] ~= ARGV[2] or f[2] ~= ARGV[3] then return {'retry'} end
local err = checktypes({KEYS[2], 'string'}, {KEYS[3], 'zset'}, {KEYS[4], 'zset'}, {KEYS[5], 'string'}, {KEYS[6], 'stream'})
if err then return redis.error_reply(err) end
local seq = redis.call('INCR', KEYS[5])
redis.call('XADD', KEYS[6], string.format('%d-0', seq), 'op', 'delete', 'work', ARGV[1],
  'creator', ARGV[2], 'disabled', '0', 'at', ARGV[4])
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return {'deleted', seq}
`)

// createDisputeScript records a dispute under the next dispute sequence.
//
//	KEYS: 1 dispute, 2 disputes, 3 dispute_seq
//	ARGV: 1 id, 2 Dispute JSON
//	returns {"created", seq} | {"exists"}
var createDisputeScript = redis.NewScript(luaCheckTypes + `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local err = checktypes({KEYS[2], 'zset'}, {KEYS[3], 'string'})
if err then return redis.error_reply(err) end
local seq = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
return {'created', seq}
`)
