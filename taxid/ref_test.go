package taxid_test

// Independent reference implementation of the check digit algorithms,
// written straight from the specifications, used to cross-check the package.

func refDV(values []int, weights []int) int {
	sum := 0
	for i, v := range values {
		sum += v * weights[i]
	}
	if r := sum % 11; r >= 2 {
		return 11 - r
	}
	return 0
}

// refValidCPF reports whether the 11-digit string s has correct check digits.
func refValidCPF(s string) bool {
	v := make([]int, 11)
	for i := range 11 {
		v[i] = int(s[i]) - 48
	}
	dv1 := refDV(v[:9], []int{10, 9, 8, 7, 6, 5, 4, 3, 2})
	dv2 := refDV(v[:10], []int{11, 10, 9, 8, 7, 6, 5, 4, 3, 2})
	return v[9] == dv1 && v[10] == dv2
}

// refValidCNPJ reports whether the 14-character upper-case string s has
// correct check digits (IN RFB 2.229/2024: value = ASCII code - 48).
func refValidCNPJ(s string) bool {
	v := make([]int, 14)
	for i := range 14 {
		v[i] = int(s[i]) - 48
	}
	dv1 := refDV(v[:12], []int{5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2})
	dv2 := refDV(v[:13], []int{6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2})
	return v[12] == dv1 && v[13] == dv2
}
