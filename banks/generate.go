package banks

// Regenerate data/banks.tsv (needs npm and the npm registry; bump the version here and in
// the package documentation together).
//go:generate go run ./internal/gen -version 6.3.38 -out data/banks.tsv
