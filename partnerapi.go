package onboarding

// PartnerAPIQueries are the Store queries of the capabilities the partner API added for
// the official SDK: bank accounts, credentials, simulations and biometrics session codes.
// Queries embeds it.
type PartnerAPIQueries interface {
	BankAccountQueries
	CredentialQueries
	SimulationQueries
	BiometricsCodeQueries
}
