"""Round 10 held-out mutants for lab03, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab03")

_REMAINING = "        return max(0.0, self.at - self.clock())"
_CHILD = "        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)"
_TIMEOUT_LINE = "        timeout = deadline.timeout(step_timeout)\n"
_WAIT = """\
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
"""
_SLEEP = "            sleep(wait)\n"
_CALL = """\
            completion = call_llm(
                client, run.messages, deadline=deadline, step_timeout=step_timeout,
                policy=policy, sleep=sleep, rng=rng, model=model,
            )
"""
_STEPS_CHECK = """\
            if run.steps >= budget.max_steps:
                raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")
"""
_BUDGET_BRANCH = """\
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""
_COUNT_TOKENS = """\
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
"""
_FAIL_DEF = "def _fail(run: AgentRun, error: Exception) -> None:\n"
_IMPORT_OPENAI = ("from openai import OpenAI\n", "import openai\nfrom openai import OpenAI\n")
_SINGLE = "    single = client.with_options(max_retries=0)\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab03.run-deadline-stops-loop ---
    _m(
        "time-left-goes-negative-as-go-time-until",
        # what a Deadline says once it has passed (no time left) is run-deadline-stops-loop's
        # alone (README). expired(), check() and timeout() stay right (remaining() <= 0 still
        # holds past the deadline), so no request is sent late and no wait is slept: only
        # remaining() itself reports a negative time left
        {"lab03.run-deadline-stops-loop"},
        "ports the chapter's Go, where the time left is `time.Until(deadline)`, a Duration "
        "that goes negative once the deadline has passed, and writes remaining() as "
        "`self.at - self.clock()` ('expired() tests <= 0, so the sign does no harm'). "
        "Before the deadline and at its instant every figure is right, and expired(), "
        "check(), timeout() and call_llm's wait check all behave as before; but asked for "
        "the time left 5 s after the deadline (a tool that ran past it, a deadline made "
        "with Deadline.after(-5)), remaining() says -5 instead of 0, where the contract "
        "says never negative",
        (_REMAINING, "        return self.at - self.clock()  # as Go's time.Until: negative once past"),
    ),
    # -- lab03.deadline-exceeded-recorded ---
    _m(
        "wall-time-exhausted-only-once-the-clock-says-so",
        # the run's record of a deadline that runs out inside call_llm is
        # deadline-exceeded-recorded's (README); the wait is not slept and the call fails at
        # once with DeadlineExceeded, chained, exactly as before, so retry-respects-deadline
        # is not concerned
        {"lab03.deadline-exceeded-recorded"},
        "'exhausted means spent': records max_wall_time as the exhausted budget only when "
        "the deadline has really passed on the clock, reasoning that a backoff wait that "
        "would not fit leaves time that was never used. A deadline noticed at the top of a "
        "turn, or by deadline.timeout(), or a request that hung to the deadline, is "
        "recorded as before, and max_steps and max_llm_tokens too; but when a 503 with "
        "retry-after: 20 comes back with 10 s left, the run ends failed with "
        "'DeadlineExceeded: ...' as it should and exhausted left None, though the "
        "DeadlineExceeded names max_wall_time as its budget",
        (_BUDGET_BRANCH, """\
    except BudgetExceeded as exhausted:
        # a wait that would not fit leaves time on the clock: the wall time is not spent yet
        if not isinstance(exhausted, DeadlineExceeded) or deadline.expired():
            run.exhausted = exhausted.budget
        _fail(run, exhausted)
"""),
    ),
    # -- lab03.step-timeout-sent ---
    _m(
        "conversation-trimmed-to-a-window",
        # what each request carries besides its timeout (the model, the tools, the run's
        # messages) is step-timeout-sent's, as for the kit's model-not-passed-on and
        # no-tools-offered; the fake's usage is scripted, so no budget changes, and
        # run.messages itself keeps every message
        {"lab03.step-timeout-sent"},
        "adds the context-window trimming of LangChain's trim_messages / "
        "ConversationBufferWindowMemory 'so that a long run does not blow the context and "
        "the token budget': each request sends the system prompt and the user's goal, then "
        "only the last 6 messages of the conversation. run.messages keeps everything, and "
        "every run of up to three tool turns sends exactly the conversation as before; from "
        "the fourth turn on, the request lacks the earlier assistant and tool messages "
        "(and can open on a tool result whose call was cut off), where the contract sends "
        "the run's messages",
        ("                client, run.messages, deadline=deadline, step_timeout=step_timeout,\n",
         "                client, _window(run.messages), deadline=deadline, step_timeout=step_timeout,\n"),
        (_FAIL_DEF, """\
def _window(messages: list[Message], keep: int = 6) -> list[Message]:
    \"\"\"The system prompt and the goal, then the last ``keep`` messages (a context window).\"\"\"
    if len(messages) <= 2 + keep:
        return messages
    return messages[:2] + messages[-keep:]


""" + _FAIL_DEF),
    ),
    _m(
        "time-left-shared-among-the-attempts-left",
        # far from the deadline (at least twice the step timeout left) the first attempts
        # get less than the step timeout: step-timeout-sent; nearer it, less than the step
        # timeout or the time left, whichever is less: timeout-shrinks-to-budget (README).
        # Never more than either, and the waits are unchanged
        {"lab03.step-timeout-sent", "lab03.timeout-shrinks-to-budget"},
        "'a hung first attempt must not eat the retries' time': like retry helpers that "
        "split a total timeout over the tries, each attempt is given at most an equal share "
        "of the time left among the attempts still to make, min(step timeout, time left / "
        "attempts left). With plenty of time (300 s left, 4 attempts, 30 s step timeout: a "
        "75 s share) and on the last attempt nothing changes, nor with max_attempts=1; but "
        "with 100 s left the first request goes out with 25 s instead of the 30 s step "
        "timeout, and with 50 s left with 12.5 s instead of 30",
        (_TIMEOUT_LINE, """\
        # an equal share of the time left for each attempt still to make
        timeout = min(
            deadline.timeout(step_timeout),
            deadline.remaining() / (policy.max_attempts - attempt + 1),
        )
"""),
    ),
    # -- lab03.child-deadline-min ---
    _m(
        "child-keeps-its-own-at-and-asks-the-parent",
        # where a child's instant lies (its `at`) is child-deadline-min's (README); every
        # figure the child gives (remaining, expired, check, timeout) is right, and run_agent
        # makes no child
        {"lab03.child-deadline-min"},
        "ports Go's context tree literally: a child remembers its parent and keeps its own "
        "deadline, now + seconds, as `at`, and remaining() takes the least of its own time "
        "left and its parent's ('cancellation flows down the tree'). Every time left, "
        "expired(), check() and timeout() of the child are exactly right, and so is `at` "
        "when the child's own seconds come first; but child(60) of a deadline 10 s away "
        "has `at` 60 s from now instead of the parent's, so whoever reads the child's "
        "deadline (to pass it on, to log it, to compare it) gets the later of the two",
        (_REMAINING, """\
        left = max(0.0, self.at - self.clock())
        parent = getattr(self, "parent", None)  # a child also ends with its parent
        return left if parent is None else min(left, parent.remaining())"""),
        (_CHILD, """\
        kid = Deadline(self.clock() + seconds, clock=self.clock)
        kid.parent = self  # type: ignore[attr-defined]  # as Go's context tree
        return kid"""),
    ),
    _m(
        "child-now-derived-from-the-time-left",
        # where a child's instant lies is child-deadline-min's; the parent is unchanged
        {"lab03.child-deadline-min"},
        "'read the clock once, through remaining(), so that child() and remaining() agree "
        "on now': takes now as at - remaining() and the child as min(at, now + seconds). "
        "While the parent has time left this is the earlier of the two (to the last bit "
        "of float rounding), and a child of a passed parent given zero or more seconds is "
        "the parent's deadline, as it should be; but remaining() is clamped at 0, so once "
        "the parent has passed, `now` is the parent's deadline, not the clock: child(-5) "
        "of a deadline that passed 10 s ago lies 5 s before the parent's, 15 s ago, "
        "instead of at the parent's (the earlier of the parent's and 5 s ago)",
        (_CHILD, """\
        now = self.at - self.remaining()  # the clock read once, as remaining() reads it
        return Deadline(min(self.at, now + seconds), clock=self.clock)"""),
    ),
    # -- lab03.retry-respects-deadline ---
    _m(
        "backoff-counted-from-the-attempts-start",
        # how long a wait of call_llm is: retry-respects-deadline's. A 503 and a timed-out
        # request that took as long are shortened alike, so nothing is timeout-specific
        # (README: a timeout is judged against the same call whose timeout came back as a
        # 503), and server delays are waited as asked
        {"lab03.retry-respects-deadline"},
        "schedules retries at a fixed rate, as cron-like retry schedulers and some job "
        "queues do: the backoff is the spacing between the starts of two attempts, so the "
        "time the failed attempt took is taken off the wait (max(0, backoff - elapsed)). "
        "Failures that come back at once (the notebook's 500s) wait 1, 2, 4 s exactly as "
        "before, and a retry-after is waited as asked; but after a 502 that took 1.5 s the "
        "next backoff of 2 s is slept as 0.5 s, and after a request that timed out with "
        "its 30 s step timeout every backoff wait is 0: the retries go out back to back",
        (_TIMEOUT_LINE, _TIMEOUT_LINE + "        started = deadline.clock()\n"),
        (_WAIT, _WAIT + """\
            if requested is None:  # the backoff spaces the starts of the attempts
                wait = max(0.0, wait - (deadline.clock() - started))
"""),
    ),
    _m(
        "wait-slept-in-one-second-ticks",
        # the wait itself (its length, taken with the sleep handed in) is
        # retry-respects-deadline's; the total time waited is the solution's
        {"lab03.retry-respects-deadline"},
        "sleeps the wait in ticks of at most a second, 'so that a cancelled run or a "
        "Ctrl-C is noticed within a second', as interruptible-sleep loops do. The time "
        "waited adds up to the same, no wait that does not fit is slept, and waits of a "
        "second or less are one sleep as before; but a 4 s backoff is four sleep(1.0) "
        "calls instead of one sleep(4.0), a 2.5 s retry-after is sleep(1.0), sleep(1.0), "
        "sleep(0.5), and a zero wait (retry-after: 0) makes no sleep call at all, where "
        "the contract says sleep(wait)",
        (_SLEEP, """\
            while wait > 0:  # in ticks of a second, so that a cancel is noticed
                tick = min(wait, 1.0)
                sleep(tick)
                wait -= tick
"""),
    ),
    # -- lab03.llm-timeout-handled ---
    _m(
        "single-attempt-policy-calls-once",
        # how call_llm's retries end (RetryError on the last attempt, the first one here) is
        # llm-timeout-handled's; no wait is slept in either version, and the timeout sent
        # is the same
        {"lab03.llm-timeout-handled"},
        "'with max_attempts=1 there is nothing to retry, so skip the retry machinery': "
        "when the policy allows one attempt, call_llm sends the request once, with its "
        "timeout, and lets whatever it raises propagate. Every policy of two or more "
        "attempts is handled as before, and a permanent error is raised as it is either "
        "way; but with RetryPolicy(max_attempts=1) a 503, a refused connection or a "
        "timed-out request escapes as InternalServerError, APIConnectionError or "
        "APITimeoutError instead of lab 01's RetryError(1, ...) chained to it, and the run "
        "records that instead of 'RetryError: gave up after 1 attempts: ...'",
        (_SINGLE, _SINGLE + """\
    if policy.max_attempts == 1:  # nothing to retry: one plain call
        return single.chat.completions.create(
            model=model,
            messages=list(messages),  # type: ignore[arg-type]
            tools=list(tools),  # type: ignore[arg-type]
            timeout=deadline.timeout(step_timeout),
        )
"""),
    ),
    _m(
        "server-delay-kept-from-an-earlier-answer",
        # timeout- and connection-specific: the same call whose timeout came back as a 503
        # (no retry-after) waits the backoff as before, so it is the timed-out request and
        # the refused connection that are handled unlike other transient failures
        # (llm-timeout-handled, README). Every failure with an HTTP answer reads its own
        # headers, so the server-delay waits are the solution's
        {"lab03.llm-timeout-handled"},
        "'only an HTTP answer has headers': reads the server's delay only from an "
        "openai.APIStatusError, and declares the variable once before the loop, so a "
        "failure without a response keeps the delay of the last answer that had one. "
        "Calls whose failures are all HTTP errors, and timeouts or refused connections "
        "with no 429 before them, wait exactly as before; but after a 429 with "
        "retry-after: 20, a request that times out (or whose connection is refused) waits "
        "20 s again instead of its backoff of 2 s, and near the deadline ends the call "
        "with DeadlineExceeded where the 2 s backoff fitted",
        _IMPORT_OPENAI,
        (_SINGLE, _SINGLE + "    requested: float | None = None  # the server's delay, if it gave one\n"),
        ("            requested = server_delay(error)\n",
         "            if isinstance(error, openai.APIStatusError):  # only an answer has headers\n"
         "                requested = server_delay(error)\n"),
    ),
    _m(
        "turn-retried-once-more-after-retry-error",
        # call_llm is the solution's; what run_agent does with its RetryError (the run ends
        # failed with it, no further attempts) is how the retries end, llm-timeout-handled's
        # (README). Every wait of call_llm is as before and every request still gets its
        # timeout; no budget changes unless the extra attempts succeed
        {"lab03.llm-timeout-handled"},
        "stacks a node-level retry on the client-level one, as LangGraph's RetryPolicy on "
        "a node that itself retries: when call_llm gives up with a RetryError, the turn "
        "gets one more round, a second call_llm with the whole policy again. Runs whose "
        "requests succeed within max_attempts, permanent errors and budgets are as "
        "before; but a run whose model keeps answering 503 (or timing out) makes 8 "
        "attempts instead of 4, the fifth straight after the fourth, and a model that "
        "recovers on the sixth attempt completes the run, where the contract ends it "
        "failed with RetryError after the fourth",
        (_CALL, """\
            try:
                completion = call_llm(
                    client, run.messages, deadline=deadline, step_timeout=step_timeout,
                    policy=policy, sleep=sleep, rng=rng, model=model,
                )
            except RetryError:  # the turn gets one more round of attempts
                completion = call_llm(
                    client, run.messages, deadline=deadline, step_timeout=step_timeout,
                    policy=policy, sleep=sleep, rng=rng, model=model,
                )
"""),
    ),
    # -- lab03.budget-enforced ---
    _m(
        "final-answer-requested-when-steps-run-out",
        # max_steps is budget-enforced's (README): a request after it and a completed run.
        # The deadline is checked before max_steps, and call_llm's own deadline.timeout()
        # still guards the extra request, so nothing is sent after the deadline
        {"lab03.budget-enforced"},
        "copies smolagents, whose agent, on reaching max_steps, calls the model once more "
        "without tools for a final answer (provide_final_answer) instead of failing: the "
        "run records exhausted='max_steps', sends one last request with no tools, counts "
        "its step and tokens and ends completed with that answer. Runs that finish within "
        "max_steps, the token budget and the deadline are as before; but every run that "
        "reaches max_steps sends one request too many (max_steps=3: four requests) and "
        "ends completed instead of failed with BudgetExceeded('max_steps', ...)",
        (_STEPS_CHECK, """\
            if run.steps >= budget.max_steps:  # as smolagents: ask once more for the answer
                run.exhausted = "max_steps"
                completion = call_llm(
                    client, run.messages, deadline=deadline, step_timeout=step_timeout,
                    policy=policy, sleep=sleep, rng=rng, model=model, tools=(),
                )
                run.steps += 1
                if completion.usage is not None:
                    run.llm_tokens += completion.usage.total_tokens
                final = completion.choices[0].message
                run.messages.append(assistant_message(final))
                run.state, run.result = TaskState.COMPLETED, final.content or ""
                return run
"""),
    ),
    _m(
        "zero-usage-estimated-from-the-text",
        # how tokens are counted is budget-enforced's (README); the failed run's record
        # holds the tokens the mutant counted, so nothing else is recorded wrongly
        {"lab03.budget-enforced"},
        "adds the fallback of LiteLLM-style token accounting, 'some servers report no "
        "usage: estimate it, about four characters a token': when a response's "
        "usage.total_tokens is 0, the turn is counted as max(1, len(text) // 4) tokens, "
        "the text being the reply's content and its tool calls' arguments. Every response "
        "that reports its usage is counted exactly as before; but a server (or the fake) "
        "reporting 0 tokens for a turn, which the contract counts as 0, makes llm_tokens "
        "grow anyway, so a run with max_llm_tokens=1 stops after its first turn instead of "
        "going on, and llm_tokens records tokens the responses never reported",
        (_COUNT_TOKENS, """\
            if completion.usage is not None:
                spent = completion.usage.total_tokens
                if not spent:  # no usage reported: estimate, about 4 characters a token
                    said = completion.choices[0].message
                    text = (said.content or "") + "".join(
                        call.function.arguments for call in said.tool_calls or ()
                    )
                    spent = max(1, len(text) // 4)
                run.llm_tokens += spent
"""),
    ),
)
