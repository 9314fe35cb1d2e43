package main

// End-to-end golden scenarios for `creditflow replay` (SPEC 5).
//
// Each directory under testdata/scenarios is one scenario:
//
//	catalog.yaml          the pricing catalog
//	events.jsonl          usage events, in arrival order
//	events.<variant>.jsonl optional: the same scenario in another arrival
//	                      order; it must produce the same expected files
//	grants.jsonl          optional grants
//	args                  extra flags on one line, e.g. --now 2026-01-20T00:00:00Z;
//	                      $DIR stands for the scenario directory
//	README.md             what it checks and the hand-computed expectation
//	expected/             the files compared byte for byte (goldenFiles);
//	                      exit_code (default 0) and, for a non-zero exit
//	                      code, stderr.txt: stderr without log lines, the
//	                      scenario directory written as $DIR
//
// Regenerate expected/ with
//
//	go test ./cmd/creditflow -run TestScenarios -update
//
// and check every changed number against the scenario's README by hand
// before keeping it.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/sinks/files"
)

var update = flag.Bool("update", false, "rewrite testdata/scenarios/*/expected from the program's output")

// scenariosDir holds the scenarios, relative to this package's directory.
var scenariosDir = filepath.Join("..", "..", "testdata", "scenarios")

// goldenFiles are the outputs compared byte for byte. The Parquet files and
// the manifest are not compared here: checkManifest checks that the manifest
// describes every file, and TestReplayDeterministic that they are stable.
var goldenFiles = []string{windowsFile, deadLetterFile, alertsFile, closesFile, lineItemsFile}

// specFiles are the files SPEC 5 requires in the output directory; the
// manifest must list each of them.
var specFiles = []string{windowsFile, closesFile, closesParquetFile, lineItemsFile, lineItemsParquet, alertsFile, deadLetterFile}

type scenario struct {
	name, dir string
	args      []string // extra flags, $DIR expanded
	exitCode  int      // expected exit status
	variants  []string // events files: events.jsonl first, then events.*.jsonl
}

func loadScenario(t *testing.T, name string) scenario {
	t.Helper()
	s := scenario{name: name, dir: filepath.Join(scenariosDir, name)}
	args, err := os.ReadFile(filepath.Join(s.dir, "args"))
	if err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	for _, f := range strings.Fields(string(args)) {
		s.args = append(s.args, strings.ReplaceAll(f, "$DIR", s.dir))
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, "expected", "exit_code")); err == nil {
		if s.exitCode, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			t.Fatalf("scenario %s: expected/exit_code: %v", name, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("scenario %s: %v", name, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "README.md")); err != nil {
		t.Errorf("scenario %s: every scenario documents its hand-computed expectation in README.md: %v", name, err)
	}
	s.variants = []string{"events.jsonl"}
	more, err := filepath.Glob(filepath.Join(s.dir, "events.*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		s.variants = append(s.variants, filepath.Base(m))
	}
	return s
}

// result is what one run of the command produced.
type result struct {
	code           int
	stdout, stderr string
	out            string // output directory
}

// replay runs `creditflow replay` over the scenario with the given events
// file into a fresh directory.
func (s scenario) replay(t *testing.T, events string) result {
	t.Helper()
	out := t.TempDir()
	args := []string{"replay",
		"--catalog", filepath.Join(s.dir, "catalog.yaml"),
		"--events", filepath.Join(s.dir, events),
		"--out", out,
	}
	if _, err := os.Stat(filepath.Join(s.dir, "grants.jsonl")); err == nil {
		args = append(args, "--grants", filepath.Join(s.dir, "grants.jsonl"))
	}
	args = append(args, s.args...)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String(), out: out}
}

// messages returns stderr without zerolog lines, with the scenario directory
// written as $DIR.
func (s scenario) messages(stderr string) string {
	var b strings.Builder
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, `{"level":`) {
			continue
		}
		b.WriteString(strings.ReplaceAll(line, s.dir, "$DIR"))
	}
	return b.String()
}

func scenarioNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(scenariosDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no scenarios in %s", scenariosDir)
	}
	return names
}

func TestScenarios(t *testing.T) {
	for _, name := range scenarioNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := loadScenario(t, name)
			for i, events := range s.variants {
				t.Run(events, func(t *testing.T) {
					r := s.replay(t, events)
					if r.code != s.exitCode {
						t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, s.exitCode, r.stderr)
					}
					if *update && i == 0 {
						s.writeExpected(t, r)
					}
					s.compare(t, r)
				})
			}
		})
	}
}

// writeExpected rewrites the scenario's expected files from r.
func (s scenario) writeExpected(t *testing.T, r result) {
	t.Helper()
	exp := filepath.Join(s.dir, "expected")
	if err := os.MkdirAll(exp, 0o755); err != nil {
		t.Fatal(err)
	}
	if s.exitCode != 0 {
		if err := os.WriteFile(filepath.Join(exp, "stderr.txt"), []byte(s.messages(r.stderr)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, name := range goldenFiles {
		got, err := os.ReadFile(filepath.Join(r.out, name))
		if err != nil {
			t.Fatalf("read output: %v", err)
		}
		if err := os.WriteFile(filepath.Join(exp, name), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// compare checks r against the expected files.
func (s scenario) compare(t *testing.T, r result) {
	t.Helper()
	exp := filepath.Join(s.dir, "expected")
	if s.exitCode != 0 {
		want, err := os.ReadFile(filepath.Join(exp, "stderr.txt"))
		if err != nil {
			t.Fatalf("a scenario with a non-zero exit status needs expected/stderr.txt (run with -update): %v", err)
		}
		diffText(t, "stderr", string(want), s.messages(r.stderr))
		return
	}
	for _, name := range goldenFiles {
		want, err := os.ReadFile(filepath.Join(exp, name))
		if err != nil {
			t.Errorf("expected/%s: %v (run with -update to create it)", name, err)
			continue
		}
		got, err := os.ReadFile(filepath.Join(r.out, name))
		if err != nil {
			t.Errorf("output %s: %v", name, err)
			continue
		}
		diffText(t, name, string(want), string(got))
	}
	checkManifest(t, r.out)
}

// diffText reports a line diff (- want, + got) when want and got differ.
func diffText(t *testing.T, name, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	t.Errorf("%s differs (-want +got):\n%s", name, cmp.Diff(strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")))
}

// checkManifest checks that dir's manifest.json lists every SPEC 5 file and
// describes every file of dir (size, SHA-256 and row count), and that dir
// holds nothing else (no leftover temporary files).
func checkManifest(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, files.ManifestName))
	if err != nil {
		t.Errorf("manifest: %v", err)
		return
	}
	var m files.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("manifest: %v", err)
		return
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Name] = true
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			t.Errorf("manifest lists %s: %v", f.Name, err)
			continue
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
			t.Errorf("manifest: %s sha256 %s, file has %s", f.Name, f.SHA256, got)
		}
		if int64(len(data)) != f.Bytes {
			t.Errorf("manifest: %s bytes %d, file has %d", f.Name, f.Bytes, len(data))
		}
		lines := int64(bytes.Count(data, []byte("\n")))
		switch filepath.Ext(f.Name) {
		case ".csv":
			lines-- // the header
		case ".jsonl":
		default:
			continue
		}
		if lines != f.Rows {
			t.Errorf("manifest: %s rows %d, file has %d", f.Name, f.Rows, lines)
		}
	}
	for _, name := range specFiles {
		if !listed[name] {
			t.Errorf("manifest does not list %s", name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != files.ManifestName && !listed[e.Name()] {
			t.Errorf("output directory holds %s, which the manifest does not list", e.Name())
		}
	}
}

// TestReplayDeterministic replays scenarios twice and requires every output
// file, Parquet and manifest included, to be byte-identical.
func TestReplayDeterministic(t *testing.T) {
	for _, name := range []string{"late_after_close", "deadletters_every_reason", "shuffled_vs_sorted"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := loadScenario(t, name)
			first, second := s.replay(t, s.variants[0]), s.replay(t, s.variants[0])
			for _, r := range []result{first, second} {
				if r.code != 0 {
					t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
				}
			}
			a, b := dirFiles(t, first.out), dirFiles(t, second.out)
			if !slices.Equal(a, b) {
				t.Fatalf("the runs wrote different files: %v and %v", a, b)
			}
			for _, f := range []string{closesParquetFile, lineItemsParquet, files.ManifestName} {
				if !slices.Contains(a, f) {
					t.Errorf("no %s in the output", f)
				}
			}
			for _, f := range a {
				x, err := os.ReadFile(filepath.Join(first.out, f))
				if err != nil {
					t.Fatal(err)
				}
				y, err := os.ReadFile(filepath.Join(second.out, f))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(x, y) {
					t.Errorf("%s differs between two identical runs (%d and %d bytes)", f, len(x), len(y))
				}
			}
		})
	}
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
