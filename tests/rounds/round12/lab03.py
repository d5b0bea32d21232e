"""Round 12 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

# Families deliberately avoided, because the kit's mutants or rounds 1-11 have them:
# - the deadline check: missing, after the request or the tools, left to call_llm, strict
#   `>` at the instant, abs()/negative time left, a leeway, restarted every turn, the
#   process's clock, 0 or a negative max_wall_time meaning "no limit", a wrap-up request;
# - the deadline's record: a generic or plain BudgetExceeded error, a TimeoutError
#   subclass, the cause recorded instead, a completed end, a stop note, progress dropped,
#   rolled back or written back only on completion, the except clauses' order;
# - the request: no timeout, ms, httpx.Timeout with one part kept (connect 5 s, read only),
#   client-level or once-per-call timeouts, a cap at the client default, 0/inf conventions,
#   a window, a time warning, max_tokens added, tools missing/ignored/first turn only;
# - the shrink: constant, whole seconds, ceil, a floor, a margin, a share of the time left,
#   the time left read before the wait or tracked by subtraction, refusing a short turn;
# - the child: own deadline only, the later one, in place, durations taken as instants,
#   clamped time left, through timeout(), time.monotonic, negative seconds clamped,
#   child(0) or a passed parent giving the parent, compared by time left, counted from
#   creation, memoised, own `at` asking the parent, now derived from the time left;
# - the waits: not checked, `>`, uncapped/checked before the cap, a floor, a clamp, the
#   backoff replacing a delay that does not fit, compared with the next timeout or with room
#   for an attempt, zero waits, jitter drawn twice or judged unjittered, rng/sleep/policy not
#   passed on, a private rng, streaks across calls, backoff index from 1 or counting only
#   backoffs, an immediate retry, the attempt's time taken off, ticks, chaining;
# - timeouts and retries: not retried, no wait, not counted, full step timeout only,
#   re-raised, reported as deadline, deadline checked first or before the last attempt,
#   RetryError's count/chain/first/root/last error, permanence after retries or before the
#   last attempt, 429/5xx only, HTTP-only permanence, narrowed catch-alls, left running,
#   traceback kept, a second round of retries, single-attempt shortcut, stale server delay;
# - budgets: off-by-one, `==`, 0 = unlimited, a fraction, misnamed or swapped, tokens before
#   steps, per tool call, counted from this call or the conversation, checked between or
#   right after turns, predicted, estimated, prompt-only, assigned, cached tokens discounted,
#   last step's tools not run, a final answer requested, completed on max_steps.

_m = mutants_of("lab03")

_CHECK = "        if self.expired():\n            raise DeadlineExceeded()\n"
_CHECK_DEF = "    def check(self) -> None:\n"
_CHILD = "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"
_TIMEOUT_RETURN = "        return min(step_timeout, self.remaining())"
_TIMEOUT_LINE = "        timeout = deadline.timeout(step_timeout)\n"
_REQUEST_MESSAGES = "                messages=list(messages),  # type: ignore[arg-type]\n"
_PERMANENT = "            if not is_transient(error):\n                raise\n"
_BACKOFF = "                backoff_delay(attempt - 1, policy, rng)\n"
_SLEEP = "            sleep(wait)\n"
_SERVER_WAIT = "                else min(requested, policy.max_delay)\n"
_STEPS_RAISE = (
    '                raise BudgetExceeded("max_steps", '
    'f"{run.steps} of {budget.max_steps} steps used")\n'
)
_TOKENS_RAISE = """\
                raise BudgetExceeded(
                    "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                )
"""
_LOOP_TOP = "        while True:\n            deadline.check()\n"
_CALL_MESSAGES = (
    "                client, run.messages, deadline=deadline, step_timeout=step_timeout,\n"
)
_COUNT_TOKENS = "                run.llm_tokens += completion.usage.total_tokens\n"
_TOOL_RESULTS = "            run.messages.extend(run_tool_calls(reply, tools.execute))\n"
_FAIL_DEF = "def _fail(run: AgentRun, error: Exception) -> None:\n"
_SLEEP_TYPE = "Sleep = Callable[[float], None]\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "deadline-truthiness-guards-call-llm",
        # run_agent's loop is equivalent to the solution's (it leaves on a falsy deadline and
        # raises DeadlineExceeded before the other budgets), so runs are untouched; what
        # differs is call_llm handed a deadline with no time left: it sends a request, which
        # is run-deadline-stops-loop's alone (as for round 2's
        # call-llm-trusts-the-loop-deadline-check): no deadline is detected, so nothing is
        # recorded wrongly, and a request sent once no time is left is judged there only
        {"lab03.run-deadline-stops-loop"},
        "gives Deadline a __bool__, True while time is left, so that run_agent's loop reads "
        "`while deadline:` (then raises DeadlineExceeded after it), and in call_llm guards "
        "an optional deadline the usual way, `deadline.timeout(step_timeout) if deadline "
        "else step_timeout`, meaning 'when there is one'. The classic truthiness pitfall: "
        "a deadline that has passed is falsy too. Every run is exactly as before, and "
        "call_llm with time left is right; but call_llm called with a deadline that has "
        "passed (or is exactly now) sends its request with the full step timeout instead "
        "of raising DeadlineExceeded without sending anything, and returns the answer if "
        "one comes",
        (_CHECK_DEF, '''\
    def __bool__(self) -> bool:
        """True while time is left, so that `while deadline:` reads as it means."""
        return not self.expired()

''' + _CHECK_DEF),
        (_TIMEOUT_LINE,
         "        # no deadline given: the step timeout alone\n"
         "        timeout = deadline.timeout(step_timeout) if deadline else step_timeout\n"),
        (_LOOP_TOP, "        while deadline:  # while time is left\n"),
        (_TOOL_RESULTS,
         _TOOL_RESULTS
         + "        raise DeadlineExceeded()  # the loop ends once no time is left\n"),
    ),
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "overrun-formatted-as-whole-seconds",
        # no request goes out after the deadline (check() still raises, only not the right
        # exception), and the failure is recorded as a failure; what is lost is the deadline's
        # own record, a distinct DeadlineExceeded with max_wall_time: deadline-exceeded-
        # recorded. A deadline noticed by call_llm's wait check (a retry cut short, a request
        # timed out at the deadline) builds its own message and is recorded right, so the
        # waits and the endings of timed-out requests are the solution's
        {"lab03.deadline-exceeded-recorded"},
        "makes Deadline.check() say how late the run is, in whole seconds like the steps "
        "budget's '3 of 3 steps used': DeadlineExceeded(f'the deadline passed {late:d} s "
        "ago'). The line only runs once a deadline has passed, so it was never run before "
        "handing in: the clock reads floats, and 'd' is no float format, so building the "
        "message raises ValueError. A deadline that cuts a retry short (the wait check's "
        "own message) is recorded exactly as before; but a run whose deadline passes at the "
        "top of a turn, or call_llm handed a passed deadline, ends with 'ValueError: "
        "Unknown format code 'd' for object of type 'float'' and exhausted None instead of "
        "DeadlineExceeded and max_wall_time, and Deadline.check() itself raises ValueError",
        (_CHECK, """\
        if self.expired():
            late = self.clock() - self.at
            raise DeadlineExceeded(f"the deadline passed {late:d} s ago")
"""),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "last-turn-given-all-the-time-left",
        # only the turn that uses the last step differs, and its timeout is the time left:
        # never above it (timeout-shrinks-to-budget holds), but above the step timeout
        # whenever more than a step timeout is left (step-timeout-sent). Waits, budgets and
        # the deadline are the solution's
        {"lab03.step-timeout-sent"},
        "'the last turn allowed has nothing after it, so nothing needs the time it would "
        "leave': when the coming turn is the one that uses the last step (run.steps + 1 "
        "reaches max_steps), run_agent hands call_llm the time left as its step timeout. "
        "With the default 20 steps, every turn but the twentieth is as before, and near "
        "the deadline every request gets the time left as it should; but with max_steps=1 "
        "(or on the last step of any run) and 280 s to go, the request goes out with "
        "timeout=280 instead of the 30 s step timeout, so one hung answer eats the run",
        (_CALL_MESSAGES, """\
                client, run.messages, deadline=deadline,
                # the last turn allowed: nothing comes after it, so it may use all the time left
                step_timeout=(
                    deadline.remaining() if run.steps + 1 >= budget.max_steps else step_timeout
                ),
"""),
    ),
    _m(
        "null-fields-stripped-from-messages",
        # what each request carries besides its timeout (the run's messages, as given) is
        # step-timeout-sent's, as for round 10's conversation-trimmed-to-a-window and round
        # 11's time-warning-added-to-the-request; run.messages itself is intact and the
        # fake's answers are scripted, so nothing else changes
        {"lab03.step-timeout-sent"},
        "cleans the payload the way many API wrappers do, 'some OpenAI-compatible servers "
        "reject null fields': call_llm sends every message without its None-valued keys, "
        "{k: v for k, v in m.items() if v is not None}. The first request of a run and "
        "every system, user, tool and final assistant message are sent exactly as given; "
        "but every assistant turn that asked for tools holds content None, so from the "
        "second turn on each request carries those assistant messages without their "
        "'content': null, not run.messages as it stands",
        (_REQUEST_MESSAGES,
         "                messages=[  # no null fields: some servers reject them\n"
         "                    {key: value for key, value in message.items()"
         " if value is not None}\n"
         "                    for message in messages\n"
         "                ],  # type: ignore[misc]\n"),
    ),
    # -- lab03.timeout-shrinks-to-budget ---
    _m(
        "timeout-given-a-grace-past-the-deadline",
        # far from the deadline every request carries the step timeout (step-timeout-sent
        # holds); nearer it a request's timeout is a second more than the time left:
        # timeout-shrinks-to-budget. No request goes out after the deadline, and a request
        # that hangs to the grace's end fails as a 503 would at the same moment
        {"lab03.timeout-shrinks-to-budget"},
        "follows the practice of setting the HTTP timeout a little above the RPC's own "
        "deadline, 'so that the server's deadline error (a 504) comes back before our "
        "socket gives up' (the OpenAI client even tells the server its read timeout in a "
        "header): Deadline.timeout() returns min(step_timeout, time left + 1 s). Every "
        "request with the step timeout or more to go is sent with the step timeout, as "
        "before; but with 15 s left a request is allowed 16 s, with 0.4 s left 1.4 s, and "
        "with 29.5 s left and a 30 s step timeout 30 s, so a model that hangs near the end "
        "keeps the run up to a second past its deadline",
        (_SLEEP_TYPE,
         _SLEEP_TYPE + "\n#: How long past the deadline a request may wait for the server's own "
                       "error.\nRESPONSE_GRACE = 1.0\n"),
        (_TIMEOUT_RETURN,
         "        # a little more than is left, so the server's deadline error comes back first\n"
         "        return min(step_timeout, self.remaining() + RESPONSE_GRACE)"),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-bounded-by-the-root-deadline",
        # where a child's instant lies is child-deadline-min's; every child of a deadline
        # made with Deadline() or after() is exactly right, and run_agent makes no child.
        # Only a child of a child (nesting) is wrong
        {"lab03.child-deadline-min"},
        "thinks of two levels, the run and its parts: 'every part is bounded by the run's "
        "deadline', so child() keeps the root deadline on each child it makes and takes "
        "min(root.at, now + seconds). A child of the run's deadline (or of any deadline "
        "made with Deadline() or after()) is exactly the earlier of the two, for passed "
        "deadlines and negative seconds too; but a child of a child skips its own parent: "
        "Deadline.after(300).child(10).child(60) lies 60 s from now instead of 10, and a "
        "grandchild of a passed child lies in the future, later than its parent",
        (_CHILD, """\
        root = getattr(self, "root", self)  # the run's own deadline: it bounds every part
        part = Deadline(min(root.at, self.clock() + seconds), clock=self.clock)
        part.root = root  # type: ignore[attr-defined]
        return part"""),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "jitter-drawn-within-the-time-left",
        # without jitter the wait is min(capped backoff, time left), which is refused exactly
        # when the solution's is, so every run without jitter is the solution's; with jitter
        # the waits themselves (their draws, and whether one that does not fit is slept or
        # refused) are retry-respects-deadline's, as for round 3's
        # deadline-checked-against-the-unjittered-backoff
        {"lab03.retry-respects-deadline"},
        "'full jitter draws from [0, cap]; inside a deadline the time left is a cap too, so "
        "a drawn wait always fits': the backoff is backoff_delay(n, policy with max_delay = "
        "min(max_delay, time left), rng). Without jitter this is exactly the solution (a "
        "capped backoff that reaches the time left is still refused), and far from the "
        "deadline the seeded draws are the same; but with jitter on and 3 s left before an "
        "8 s backoff, the wait is drawn from [0, 3) and slept, instead of "
        "rng.uniform(0, 8), which is refused with DeadlineExceeded whenever it is 3 s or "
        "more, and every draw that was cut is shorter than lab 01's",
        ("import random\n", "import dataclasses\nimport random\n"),
        (_BACKOFF, """\
                backoff_delay(  # the time left caps the draw too: a jittered wait always fits
                    attempt - 1,
                    dataclasses.replace(
                        policy, max_delay=min(policy.max_delay, deadline.remaining())
                    ),
                    rng,
                )
"""),
    ),
    _m(
        "server-delay-slept-uncapped",
        # the wait call_llm sleeps after a server's delay is retry-respects-deadline's (as for
        # round 7's server-delay-not-capped-inside-a-deadline); here the capped delay is the
        # one checked, so a wait that fits by that measure is slept in full and crosses the
        # deadline. Backoff waits and delays up to max_delay are the solution's
        {"lab03.retry-respects-deadline"},
        "'never come back sooner than the server asked, or it will turn us away again; the "
        "cap only decides whether waiting is worth it': the wait is capped and compared "
        "with the time left as the contract says, then call_llm sleeps "
        "`requested if requested is not None else wait`. Backoff waits, and server delays "
        "up to max_delay, are slept exactly as before; but a 429 asking for 45 s with "
        "max_delay 30 and 40 s left passes the check (30 < 40) and is slept for 45 s, "
        "through the deadline, and with 1000 s left it is waited 45 s instead of the "
        "capped 30",
        (_SLEEP,
         "            # as long as the server asked: the cap only decided whether to wait\n"
         "            sleep(requested if requested is not None else wait)\n"),
    ),
    _m(
        "server-delay-truncated-to-whole-seconds",
        # the wait call_llm takes after a server's delay is retry-respects-deadline's (as for
        # round 5's zero-retry-after-means-none); whole-second delays, backoff waits and
        # every run without a server delay are the solution's
        {"lab03.retry-respects-deadline"},
        "remembers that RFC 9110's Retry-After is 'a non-negative integer of seconds' and "
        "makes sure of it: the server's delay is int(server_delay(error)) seconds, then "
        "capped. Every retry-after in whole seconds, and every backoff wait, is waited "
        "exactly as before; but the retry-after-ms header (and an HTTP-date retry-after, "
        "whose seconds from now have a fraction) is cut: retry-after-ms: 1500 is waited 1 s, "
        "250 ms not at all, and with 1.2 s left before the deadline a server asking for "
        "1.5 s is retried after 1 s instead of the call raising DeadlineExceeded at once",
        (_SERVER_WAIT,
         "                else min(float(int(requested)), policy.max_delay)  # whole seconds\n"),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "x-should-retry-header-obeyed",
        # what call_llm does with a failure (raise a permanent one as it is, retry a
        # transient one until RetryError) is llm-timeout-handled's, as for the kit's
        # retries-every-error and round 7's only-http-errors-can-be-permanent; every failure
        # without the header (the fake's timeouts and errors) is handled as before
        {"lab03.llm-timeout-handled"},
        "ports openai-python's own _should_retry, which lets the server decide with its "
        "x-should-retry header before looking at the status: 'false' raises the error at "
        "once, 'true' retries it whatever it is, and without it is_transient decides. "
        "Every failure that carries no such header (timeouts, refused connections, the "
        "usual 429s and 5xx) is handled exactly as before; but a 503 sent with "
        "x-should-retry: false escapes at once as InternalServerError instead of being "
        "retried until RetryError, and a 400 with x-should-retry: true is waited on and "
        "sent again until RetryError, where the contract raises it at once, as it is",
        (_PERMANENT, """\
            # the server may say whether to retry, as openai-python's client asks it
            headers = getattr(getattr(error, "response", None), "headers", None) or {}
            verdict = headers.get("x-should-retry")
            if verdict == "false" or (verdict != "true" and not is_transient(error)):
                raise
"""),
    ),
    _m(
        "tool-errors-fed-back-to-the-model",
        # "the run never raises: any other failure (a tool whose execute raises) ends it
        # failed with exhausted None" is the record of the failures that are not budgets,
        # llm-timeout-handled's (as for round 11's run-catches-only-the-errors-it-expects);
        # tools that succeed, every budget and every LLM failure are the solution's
        {"lab03.llm-timeout-handled"},
        "does what LangGraph's ToolNode (handle_tool_errors) and the OpenAI Agents SDK do by "
        "default: a tool that raises does not end the run, its error goes back to the model "
        "as the tool's result ('Error: ToolFailure: clean_logs failed') so that it can try "
        "something else. Every run whose tools succeed is exactly as before, and so is "
        "every budget and LLM failure; but a run whose clean_logs raises, or whose model "
        "asks for an unknown tool or sends arguments that are not JSON, goes on with "
        "another request instead of ending failed with 'ToolFailure: ...' (or KeyError, "
        "ValueError) and exhausted None",
        (_TOOL_RESULTS,
         "            run.messages.extend(\n"
         "                run_tool_calls(reply, _reporting_errors(tools.execute))\n"
         "            )\n"),
        (_FAIL_DEF, '''\
def _reporting_errors(execute: Callable[[str, str], str]) -> Callable[[str, str], str]:
    """``execute``, with a failed tool's error handed back to the model as its result."""

    def run_one(name: str, arguments: str) -> str:
        try:
            return execute(name, arguments)
        except Exception as error:  # noqa: BLE001 - the model should see what went wrong
            return f"Error: {type(error).__name__}: {error}"

    return run_one


''' + _FAIL_DEF),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "reasoning-tokens-counted-on-top",
        # how tokens are counted is budget-enforced's (as for round 11's
        # cached-prompt-tokens-not-counted); a response without completion_tokens_details
        # (the kit's fake) is counted as before, so only a server reporting reasoning tokens,
        # which a mocked OpenAI endpoint can send, shows it
        {"lab03.budget-enforced"},
        "reads that reasoning models 'think' in tokens the answer does not show and bills "
        "them, and adds usage.completion_tokens_details.reasoning_tokens to "
        "usage.total_tokens, not knowing they are already inside completion_tokens (and so "
        "inside the total). Every response without reasoning details, or with 0 of them, is "
        "counted exactly as before; but a turn reporting 1000 prompt + 600 completion "
        "tokens of which 500 reasoning is counted as 2100 instead of 1600, so llm_tokens "
        "exceeds what the responses report and a run stops on max_llm_tokens turns early",
        (_COUNT_TOKENS, """\
                details = completion.usage.completion_tokens_details
                reasoning = (details.reasoning_tokens or 0) if details is not None else 0
                # the model's hidden thinking is billed too
                run.llm_tokens += completion.usage.total_tokens + reasoning
"""),
    ),
    _m(
        "budget-error-raised-without-its-detail",
        # both budgets besides the deadline stop at the right turn with no request after it,
        # but neither is recorded as the budget that ran out: budget-enforced. The deadline's
        # DeadlineExceeded() is the given default and recorded as before; no other failure
        # changes
        {"lab03.budget-enforced"},
        "sees that DeadlineExceeded() needs no argument and writes the other two the same "
        "way, BudgetExceeded('max_steps') and BudgetExceeded('max_llm_tokens'), the budget's "
        "name being 'all it needs to say', not noticing that the given BudgetExceeded takes "
        "its detail as a second, required argument. Every run that completes, and every run "
        "that runs out of time, is exactly as before; but a run that reaches max_steps or "
        "max_llm_tokens stops at the right turn with "
        "\"TypeError: BudgetExceeded.__init__() missing 1 required positional argument: "
        "'detail'\" as its error and exhausted None, so it never says which budget ran out",
        (_STEPS_RAISE,
         '                raise BudgetExceeded("max_steps")  # the name says it all\n'),
        (_TOKENS_RAISE, '                raise BudgetExceeded("max_llm_tokens")\n'),
    ),
)
