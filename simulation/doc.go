// Package simulation prices a credit-offer simulation for a company borrower (pessoa
// jurídica): the Price (French) schedule at the offer's monthly rate, the IOF on credit
// operations, a configurable origination fee, both financed into the principal, and the
// total effective cost (CET) as the internal rate of return of the borrower's cash flow.
//
// # Amounts and rounding
//
// Every stored amount is a [money.Money] in centavos. Intermediate quantities (the Price
// factor, the IOF coefficient) are computed with math/big floats at 256 bits of precision,
// which give the same result on every platform, and each amount is rounded once, half away
// from zero, to whole centavos:
//
//   - fee = flat fee + round(requested × fee percentage);
//   - principal = round((requested + fee) / (1 − k)), where k is the IOF coefficient of the
//     schedule (see [Config]); iof = principal − requested − fee, so the identity
//     principal = requested + iof + fee always holds, and iof is round(principal × k);
//   - installment = round(PMT(principal, rate, n)); each installment's interest is
//     round(balance × rate); the last installment amortizes the remaining balance, so the
//     amortizations sum exactly to the principal and the last installment absorbs the
//     rounding.
//
// The CET is solved in float64 (Newton's method with a bisection fallback, until a step is
// below 1e-15; the tests check that it brackets the root to 1e-10) and is
// reported both as that float64 and rounded half away from zero to a [money.Rate].
//
// # Wire type
//
// [Simulation] carries the JSON names of the lender's SDK (dinie-tech/sdk-js,
// src/generated/types/simulation.ts, SimulationWire). The SDK types every amount and rate
// as a JSON number; [money.Money] encodes as a decimal string ("10000.00") and [money.Rate]
// as a JSON number (2.99), so an HTTP layer that must emit numbers for amounts converts
// them itself.
package simulation
