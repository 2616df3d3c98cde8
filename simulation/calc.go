package simulation

import (
	"math"
	"math/big"
)

// prec is the precision, in bits, of every math/big intermediate.
const prec = 256

func newFloat(x int64) *big.Float { return new(big.Float).SetPrec(prec).SetInt64(x) }

// frac returns units / scale as a big float: a money.Rate is a fraction with scale 1e6,
// a DailyRate with scale 1e8.
func frac(units, scale int64) *big.Float {
	return new(big.Float).SetPrec(prec).Quo(newFloat(units), newFloat(scale))
}

// pow returns x**n for n >= 0 by repeated squaring.
func pow(x *big.Float, n int) *big.Float {
	result, base := newFloat(1), new(big.Float).SetPrec(prec).Set(x)
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			result.Mul(result, base)
		}
		base.Mul(base, base)
	}
	return result
}

// roundHalfAway rounds x to the nearest integer, halves away from zero.
func roundHalfAway(x *big.Float) int64 {
	half := new(big.Float).SetPrec(prec).SetFloat64(0.5)
	y := new(big.Float).SetPrec(prec).Abs(x)
	y.Add(y, half)
	v, _ := y.Int64() // truncates toward zero: floor for y >= 0
	if x.Sign() < 0 {
		return -v
	}
	return v
}

// mulRateRound returns round(amount × rate / 1e6), halves away from zero: an amount in
// centavos times a money.Rate, in centavos. It is exact (big.Int).
func mulRateRound(amount, rate int64) int64 {
	n := new(big.Int).Mul(big.NewInt(amount), big.NewInt(rate))
	neg := n.Sign() < 0
	n.Abs(n)
	q, r := new(big.Int).QuoRem(n, big.NewInt(1_000_000), new(big.Int))
	if r.Cmp(big.NewInt(500_000)) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q.Int64()
}

// iofCoefficient returns k, the IOF per real of principal of a Price schedule at monthly
// rate i (a money.Rate's units) whose installments fall days[j] days after the
// simulation:
//
//	k = daily × Σ_j a_j × min(days[j], cap) + additional
//
// where a_j is the share of the principal that installment j amortizes: 1/n at rate 0,
// otherwise i × (1+i)^(j−1) / ((1+i)^n − 1), the shares summing to 1.
func iofCoefficient(rate int64, days []int, cfg Config) *big.Float {
	n := len(days)
	i := frac(rate, 1_000_000)
	weighted := newFloat(0)
	if rate == 0 {
		for _, d := range days {
			weighted.Add(weighted, newFloat(int64(min(d, cfg.daysCap()))))
		}
		weighted.Quo(weighted, newFloat(int64(n)))
	} else {
		q := new(big.Float).SetPrec(prec).Add(newFloat(1), i)
		growth := newFloat(1) // (1+i)^(j−1)
		for _, d := range days {
			term := new(big.Float).SetPrec(prec).Mul(growth, newFloat(int64(min(d, cfg.daysCap()))))
			weighted.Add(weighted, term)
			growth.Mul(growth, q)
		}
		// growth is now (1+i)^n.
		denom := new(big.Float).SetPrec(prec).Sub(growth, newFloat(1))
		weighted.Mul(weighted, i)
		weighted.Quo(weighted, denom)
	}
	k := weighted.Mul(weighted, frac(int64(cfg.IOFDailyRate), 100_000_000))
	return k.Add(k, frac(int64(cfg.IOFAdditionalRate), 1_000_000))
}

// financedPrincipal returns round(base / (1 − k)).
func financedPrincipal(base int64, k *big.Float) int64 {
	d := new(big.Float).SetPrec(prec).Sub(newFloat(1), k)
	return roundHalfAway(new(big.Float).SetPrec(prec).Quo(newFloat(base), d))
}

// pmt returns round(PMT(principal, i, n)): principal × i × (1+i)^n / ((1+i)^n − 1), or
// principal / n at rate 0.
func pmt(principal, rate int64, n int) int64 {
	p := newFloat(principal)
	if rate == 0 {
		return roundHalfAway(p.Quo(p, newFloat(int64(n))))
	}
	i := frac(rate, 1_000_000)
	qn := pow(new(big.Float).SetPrec(prec).Add(newFloat(1), i), n)
	denom := new(big.Float).SetPrec(prec).Sub(qn, newFloat(1))
	p.Mul(p, i).Mul(p, qn).Quo(p, denom)
	return roundHalfAway(p)
}

// compoundAnnual returns (1+monthly)^12 − 1 for a money.Rate, rounded to a money.Rate's
// units.
func compoundAnnual(rate int64) int64 {
	a := pow(new(big.Float).SetPrec(prec).Add(newFloat(1), frac(rate, 1_000_000)), 12)
	a.Sub(a, newFloat(1)).Mul(a, newFloat(1_000_000))
	return roundHalfAway(a)
}

// irr returns the monthly rate r >= 0 at which the installments, paid 1, 2, …, n months
// after the simulation, are worth the amount received at it:
//
//	Σ_k installments[k−1] / (1+r)^k = received
//
// It needs Σ installments >= received > 0 (then the root is unique and >= 0) and uses
// Newton's method from guess, falling back to bisection whenever a step leaves the
// bracket, until a step is below 1e-15 (relative) or the bracket is closed. Products are
// converted explicitly to float64 so that no platform fuses them: the result is the same
// everywhere.
func irr(received int64, installments []int64, guess float64) float64 {
	pv := float64(received)
	flows := make([]float64, len(installments))
	sum := 0.0
	for k, c := range installments {
		flows[k] = float64(c) / pv
		sum += flows[k]
	}
	if sum <= 1 {
		return 0
	}
	// g(r) = Σ flows[k] v^(k+1) − 1 with v = 1/(1+r); g is decreasing, g(0) > 0.
	g := func(r float64) (value, slope float64) {
		v := float64(1 / (1 + r))
		vk := 1.0
		for k, c := range flows {
			vk = float64(vk * v)
			value += float64(c * vk)
			slope -= float64(float64(float64(k+1)*c) * float64(vk*v))
		}
		return value - 1, slope
	}
	lo, hi := 0.0, 0.05
	for gv, _ := g(hi); gv > 0; gv, _ = g(hi) {
		lo, hi = hi, hi*2
	}
	x := guess
	if !(x > lo && x < hi) {
		x = (lo + hi) / 2
	}
	for range 500 {
		gv, slope := g(x)
		if gv == 0 {
			return x
		}
		if gv > 0 {
			lo = x
		} else {
			hi = x
		}
		next := x - gv/slope
		if !(next > lo && next < hi) || math.IsNaN(next) {
			next = lo + (hi-lo)/2
		}
		if math.Abs(next-x) <= 1e-15*math.Max(1, x) || hi-lo <= 1e-16*math.Max(1, hi) {
			return next
		}
		x = next
	}
	return x
}

// fracToRate rounds a fraction (0.0299) to a money.Rate (2.99 %), halves away from zero.
// It saturates at ±math.MaxInt64, which the bounds of [Simulate] keep out of reach (the
// annual CET is at most 8^12 − 1, about 6.9e10, or 6.9e16 units).
func fracToRate(f float64) int64 {
	v := math.Round(float64(f * 1_000_000))
	switch {
	case v >= math.MaxInt64:
		return math.MaxInt64
	case v <= -math.MaxInt64:
		return -math.MaxInt64
	}
	return int64(v)
}
