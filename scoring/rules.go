package scoring

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Rules is a declarative scorer: an ordered list of rules, each a condition and the
// decision to return when it holds. The first rule whose condition holds wins; when none
// does, Default is returned. Everything but [Condition.MatchFunc] can be loaded from JSON or
// YAML:
//
//	model: rules-v3
//	rules:
//	  - name: no-company
//	    when: {has_cnpj: false}
//	    decision: {outcome: decline, reason: credit is for companies only}
//	  - name: young-company
//	    when: {company_age_under_months: 6}
//	    decision: {outcome: decline, reason: company younger than 6 months}
//	  - name: established-ltda
//	    when: {legal_nature_in: [ltda, slu, sa], company_age_at_least_months: 24}
//	    decision:
//	      outcome: approve
//	      approved_amount_cents: 10000000   # R$ 100,000.00
//	      min_amount_cents: 1000000
//	      monthly_rate: 2.49
//	      min_installments: 6
//	      max_installments: 24
//	      due_date_rule: monthly
//	      valid_for: 720h
//	default:
//	  outcome: approve
//	  approved_amount_cents: 1500000
//	  min_amount_cents: 150000
//	  monthly_rate: 3.99
//	  installments: 12
//	  due_date_rule: monthly
//	  valid_for: 168h
//
// A decision left without a Model gets the Rules' Model ("rules" if that is empty); one
// left without a Reason gets `rule "<name>"` (or "default"). Score checks the chosen decision
// with [Decision.Validate] and fails permanently when it is invalid, since retrying cannot
// fix a configuration; call [Rules.Validate] when loading the rules to find out sooner.
// A zero Default (no outcome) means "no default": a request that no rule matches fails
// permanently.
type Rules struct {
	// Model names this rule set and its version in the decisions it returns.
	Model string `json:"model,omitempty" yaml:"model,omitempty"`
	// Rules are tried in order; the first match wins.
	Rules []Rule `json:"rules" yaml:"rules"`
	// Default is the decision when no rule matches.
	Default Decision `json:"default" yaml:"default"`
}

// Rule is one entry of [Rules]: when its condition holds, Decision is the answer.
type Rule struct {
	// Name identifies the rule in reasons and errors.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// When is the condition. The zero Condition always holds (a catch-all).
	When Condition `json:"when" yaml:"when"`
	// Decision is returned as is (after filling Model and Reason) when the rule matches.
	Decision Decision `json:"decision" yaml:"decision"`
}

// Condition is a conjunction of tests over a [Request]: it holds when every test that is
// set holds. Zero fields are not tested. A test over data the request lacks (company age
// without an opening date, legal nature or status when unknown) does not hold.
type Condition struct {
	// LegalNatureIn holds when the legal nature is one of these (case-insensitive), e.g.
	// ["mei", "ei"].
	LegalNatureIn []string `json:"legal_nature_in,omitempty" yaml:"legal_nature_in,omitempty"`
	// CompanyStatusIn holds when the registry's company status is one of these
	// (case-insensitive).
	CompanyStatusIn []string `json:"company_status_in,omitempty" yaml:"company_status_in,omitempty"`
	// CompanyAgeAtLeastMonths holds when the company is at least this many whole months old
	// (see [Request.CompanyAgeMonths]).
	CompanyAgeAtLeastMonths int `json:"company_age_at_least_months,omitempty" yaml:"company_age_at_least_months,omitempty"`
	// CompanyAgeUnderMonths holds when the company is younger than this many months.
	CompanyAgeUnderMonths int `json:"company_age_under_months,omitempty" yaml:"company_age_under_months,omitempty"`
	// HasCNPJ, when set, holds when the request has a CNPJ (true) or has none (false).
	HasCNPJ *bool `json:"has_cnpj,omitempty" yaml:"has_cnpj,omitempty"`
	// AlphanumericCNPJ, when set, holds when the CNPJ is alphanumeric (true) or numeric
	// (false). A request without a CNPJ holds for neither.
	AlphanumericCNPJ *bool `json:"alphanumeric_cnpj,omitempty" yaml:"alphanumeric_cnpj,omitempty"`
	// MatchFunc, when set, must also return true. It is for tests that have no declarative
	// form; it cannot be loaded from a file.
	MatchFunc func(Request) bool `json:"-" yaml:"-"`
}

// Match reports whether every test set in c holds for req.
func (c Condition) Match(req Request) bool {
	if len(c.LegalNatureIn) > 0 && !inFold(c.LegalNatureIn, req.LegalNature) {
		return false
	}
	if len(c.CompanyStatusIn) > 0 && !inFold(c.CompanyStatusIn, req.CompanyStatus) {
		return false
	}
	if c.CompanyAgeAtLeastMonths > 0 || c.CompanyAgeUnderMonths > 0 {
		age, ok := req.CompanyAgeMonths()
		if !ok {
			return false
		}
		if c.CompanyAgeAtLeastMonths > 0 && age < c.CompanyAgeAtLeastMonths {
			return false
		}
		if c.CompanyAgeUnderMonths > 0 && age >= c.CompanyAgeUnderMonths {
			return false
		}
	}
	hasCNPJ := strings.TrimSpace(req.CNPJ) != ""
	if c.HasCNPJ != nil && *c.HasCNPJ != hasCNPJ {
		return false
	}
	if c.AlphanumericCNPJ != nil && (!hasCNPJ || *c.AlphanumericCNPJ != req.HasAlphanumericCNPJ()) {
		return false
	}
	if c.MatchFunc != nil && !c.MatchFunc(req) {
		return false
	}
	return true
}

// inFold reports whether v is non-empty and equal, ignoring case, to one of set.
func inFold(set []string, v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	for _, s := range set {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return true
		}
	}
	return false
}

// Score returns the decision of the first rule whose condition holds, or Default.
func (r Rules) Score(ctx context.Context, req Request) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	for i := range r.Rules {
		if rule := &r.Rules[i]; rule.When.Match(req) {
			return r.finish(rule.Decision, ruleLabel(i, rule.Name))
		}
	}
	if r.Default.Outcome == "" {
		return Decision{}, Permanent(errors.New("scoring: no rule matched and the rules have no default"))
	}
	return r.finish(r.Default, "default")
}

// finish fills in Model and Reason (the label of what matched) and validates the decision.
func (r Rules) finish(d Decision, label string) (Decision, error) {
	if d.Model == "" {
		d.Model = r.Model
		if d.Model == "" {
			d.Model = "rules"
		}
	}
	if d.Reason == "" {
		d.Reason = label
	}
	if err := d.Validate(); err != nil {
		return Decision{}, Permanent(fmt.Errorf("scoring: %s: %w", label, err))
	}
	return d, nil
}

// ruleLabel names rule i for messages: its name, or its position when it has none.
func ruleLabel(i int, name string) string {
	if name != "" {
		return fmt.Sprintf("rule %q", name)
	}
	return fmt.Sprintf("rule #%d", i+1)
}

// Validate checks every rule's decision and the default (unless it is zero) with
// [Decision.Validate], and that no age threshold is negative. It reports every problem,
// each naming its rule.
func (r Rules) Validate() error {
	var errs []error
	for i, rule := range r.Rules {
		label := ruleLabel(i, rule.Name)
		if rule.When.CompanyAgeAtLeastMonths < 0 || rule.When.CompanyAgeUnderMonths < 0 {
			errs = append(errs, fmt.Errorf("scoring: %s: company age thresholds must not be negative", label))
		}
		if err := rule.Decision.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("scoring: %s: %w", label, err))
		}
	}
	if r.Default.Outcome != "" {
		if err := r.Default.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("scoring: default: %w", err))
		}
	}
	return errors.Join(errs...)
}
