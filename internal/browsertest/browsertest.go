// Package browsertest is what the library's browser tests share: finding Debian's
// chromium, the flags it runs with here, and where a failed test leaves its screenshots.
package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of Debian's chromium (or of ONBOARDING_CHROMIUM). Without one
// the test is skipped, except under CI=true, where it fails: CI must run browser tests.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ONBOARDING_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI must run the browser tests (apt-get install -y --no-install-recommends chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or set ONBOARDING_CHROMIUM): skipping the browser tests")
	return ""
}

// Options are the flags a browser test starts chromium with, plus extra: headless, a
// fresh profile in the test's directory, no sandbox as root (chromium refuses it), and
// nothing fetched from outside (this machine reaches no network but its registries).
func Options(t testing.TB, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	return append(opts, extra...)
}

// ArtifactsDir is where a failed test keeps its screenshots: under ONBOARDING_TEST_ARTIFACTS
// (default testdata/artifacts, ignored by git), in a folder named after the test.
func ArtifactsDir(t testing.TB) string {
	root := os.Getenv("ONBOARDING_TEST_ARTIFACTS")
	if root == "" {
		root = filepath.Join("testdata", "artifacts")
	}
	dir, err := filepath.Abs(filepath.Join(root, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
