-- Cashiers paying winning tickets: PAY_FILE holds one "cashier<TAB>token<TAB>ticketId" per
-- line; wrk thread k is cashier k (run with -t set to the number of cashiers), sending each
-- of its tickets once over its connections and stopping when every one has been answered.
-- done() prints "STATUS <code> <count>" per status answered (each ticket's payment 201; the
-- last payment repeated while the other connection waits, 200 `cached`). wrk runs until
-- its -d duration or SIGINT: the caller interrupts it once every payment is written.
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local lines = {}
local sent = 0
local created = 0
statuses = {}

function init(args)
  for line in io.lines(os.getenv("PAY_FILE")) do
    local who, token, ticket = line:match("^(%d+)\t(%S+)\t(%S+)$")
    if tonumber(who) == tid then
      local body = string.format(
        '{"ticketId":"%s","amountPaid":50000,"idempotencyKey":"pay-%s"}', ticket, ticket)
      lines[#lines + 1] = wrk.format("POST", "/api/v1/ticket-payments", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
      }, body)
    end
  end
end

local verified = false
function request()
  -- wrk calls thread 0's request() once before the run to check the request: not sent
  if tid == 0 and not verified then
    verified = true
    return lines[1]
  end
  sent = sent + 1
  -- past the end a connection repeats the last payment (a replay: 200 `cached`)
  return lines[math.min(sent, #lines)]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then created = created + 1 end
  if created == #lines then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do totals[code] = (totals[code] or 0) + n end
  end
  for code, n in pairs(totals) do
    io.write(string.format("STATUS %d %d\n", code, n))
  end
end
