-- Replays pre-signed requests from REQUESTS_FILE (one "ts<TAB>sig<TAB>body" per line);
-- each wrk thread takes its own stripe of lines so every request is a new ticket.
-- WRK_PATH: the path to POST to (default /pam).
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local lines = {}
local idx = 0

function init(args)
  local stripes = tonumber(os.getenv("STRIPES") or "1")
  local n = 0
  for line in io.lines(os.getenv("REQUESTS_FILE")) do
    if n % stripes == tid then
      local ts, sig, body = line:match("^(%d+)\t(%x+)\t(.*)$")
      lines[#lines + 1] = wrk.format("POST", os.getenv("WRK_PATH") or "/pam", {
        ["Content-Type"] = "application/json",
        ["operator-name"] = "acme",
        ["timestamp"] = ts,
        ["signature"] = sig,
      }, body)
    end
    n = n + 1
  end
end

function request()
  idx = idx + 1
  if idx > #lines then idx = 1 end
  return lines[idx]
end
