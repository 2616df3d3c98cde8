package httpapi

// RoutePatterns lists every partner route as method and path (without a prefix), for
// the tests that visit them all.
func RoutePatterns() [][2]string {
	var out [][2]string
	for _, rt := range (&api{}).routeTable() {
		out = append(out, [2]string{rt.method, rt.path})
	}
	return out
}
