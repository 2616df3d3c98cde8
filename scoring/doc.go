// Package scoring is the credit analysis seam of the onboarding library: the [Scorer]
// interface a lender implements to decide whether a newly registered customer gets a credit
// offer, the [Request] it decides from and the [Decision] it returns, plus ready-made
// scorers: [Rules] (declarative thresholds), [Chain] (fallback), [Func] (an adapter) and
// [Sandbox] (deterministic, for sandbox environments and tests).
//
// It is a leaf package: it imports only the standard library, so a scorer's author depends
// on little. The onboarding Service builds the Request from the customer (and the company
// registry's data, when configured), calls the scorer from a durable background job, and
// turns an approval into a credit offer.
//
// # Decisions
//
// A [Decision] is [Approve] or [Decline]. An approval carries the offer's terms, all exact:
//
//   - ApprovedAmountCents and MinAmountCents: int64 centavos (R$ 50,000.00 is 5_000_000),
//     the same unit as money.Money; 0 < min <= approved.
//   - MonthlyRate: a [money.Rate], in units of 0.0001 percentage points (3.5 % a month is 35000,
//     or 350 * money.BasisPoint).
//   - Installments (fixed), or MinInstallments and MaxInstallments (a range), within
//     1..[InstallmentLimit].
//   - DueDateRule (usually [DueMonthly]) and ValidFor, how long the offer is available.
//
// Reason and Model (the scorer's name and version) go to the audit trail. [Decision.Validate]
// checks all of this; the caller validates every decision before acting on it.
//
// # Writing a scorer
//
// Implement [Scorer], or wrap a function in [Func]:
//
//	scorer := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
//		report, err := bureau.Lookup(ctx, req.CNPJ)
//		switch {
//		case errors.Is(err, bureau.ErrUnknownCompany):
//			return scoring.Decision{}, scoring.Permanent(err) // retrying will not help
//		case err != nil:
//			return scoring.Decision{}, err // retried with backoff
//		case report.Score < 500:
//			return scoring.Decision{Outcome: scoring.Decline, Reason: "bureau score below 500", Model: "acme-v2"}, nil
//		}
//		return scoring.Decision{
//			Outcome:             scoring.Approve,
//			ApprovedAmountCents: report.LimitCents,
//			MinAmountCents:      report.LimitCents / 10,
//			MonthlyRate:         299 * money.BasisPoint, // 2.99 % a month
//			MinInstallments:     3,
//			MaxInstallments:     24,
//			DueDateRule:         scoring.DueMonthly,
//			ValidFor:            30 * 24 * time.Hour,
//			Model:               "acme-v2",
//		}, nil
//	})
//
// The rules of the seam:
//
//   - A Decline is an answer, not an error: return it with a nil error. It is final.
//   - Any other error means "cannot decide now": the caller retries the analysis with
//     exponential backoff. Request.Attempt tells the scorer which attempt this is.
//   - Wrap an error with [Permanent] when retrying cannot succeed (the bureau does not know
//     the company, a configuration error). The analysis then ends as failed, visible to the
//     operator. Test for it with [IsPermanent] or errors.Is(err, [ErrPermanent]).
//   - Honor ctx: the caller cancels it on shutdown and bounds each attempt.
//   - Be safe for concurrent use and deterministic where you can: the same request may be
//     scored again after a crash, and should get the same answer.
//   - Take the time from Request.Now, not from time.Now, so that tests can fake the clock.
//   - The CPF, name, email and phone are personal data: log the Request itself, whose
//     LogValue leaves them out, rather than its fields.
//
// [Chain] composes scorers (a bureau, then an in-house model), and [Rules] covers policies
// that are plain thresholds without any code.
//
// # Sandbox magic inputs
//
// [Sandbox] approves every request, on terms derived from a hash of its CNPJ (of its CPF
// when there is no CNPJ), except when the CNPJ's root (raiz, its first 8 characters; dots,
// slashes and dashes ignored) is one of the magic values below. Any branch number works:
// 11.111.111/0001-91, 11.111.111/0002-72 and so on are all valid CNPJs with the decline
// root, so a partner can register several test customers per path.
//
//	CNPJ raiz   example CNPJ          result
//	---------   ------------------    ----------------------------------------------------------
//	11111111    11.111.111/0001-91    Decline, Reason "sandbox: declined (magic CNPJ raiz 11111111)"
//	22222222    22.222.222/0001-91    retryable error on attempts 1 and 2 (SandboxRetryFailures),
//	                                  then the default approval from attempt 3 on
//	33333333    33.333.333/0001-91    permanent error (IsPermanent is true) on every attempt
//	44444444    44.444.444/0001-91    waits SlowDelay (default 5 s), then the default approval;
//	                                  returns the context's error if ctx ends first
//	55555555    55.555.555/0001-91    the default approval with a fixed 12 installments
//	                                  instead of the 3..24 range
//	any other   —                     the default approval below
//
// The default approval, a pure function of the CNPJ:
//
//	Outcome              Approve
//	ApprovedAmountCents  R$ 5,000.00 to R$ 150,000.00 in steps of R$ 500.00
//	MinAmountCents       10 % of the approved amount (exact: a multiple of R$ 50.00)
//	MonthlyRate          1.99 % to 4.99 % a month, in steps of 0.01 %
//	Installments         MinInstallments 3, MaxInstallments 24
//	DueDateRule          "monthly"
//	ValidFor             30 days
//	Reason, Model        "sandbox: approved", "sandbox-v1"
//
// The same CNPJ always gets the same decision, in any format or letter case: the result
// depends only on the CNPJ (the CPF without one) and, for the retry root, Request.Attempt.
// The sandbox does not validate check digits; the Service validates every CNPJ at
// registration.
package scoring
