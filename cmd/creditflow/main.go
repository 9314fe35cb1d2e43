// Command creditflow turns usage events into billable credit totals, alerts
// and billing-period closes. Subcommands:
//
//	creditflow replay   run the pipeline over files (SPEC 5)
//	creditflow close    close (or preview) one billing period
//	creditflow gen      write realistic usage events for tests and load
//	creditflow run      the streaming pipeline (Kafka → ClickHouse)
//	creditflow migrate  apply the ClickHouse schema migrations
//
// Run `creditflow <subcommand> -h` for each one's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// CREDITFLOW_CPUPROFILE=FILE writes a CPU profile of the whole run, for
	// the load tests.
	if path := os.Getenv("CREDITFLOW_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	// CREDITFLOW_MEMPROFILE=FILE writes the allocations of the whole run.
	if path := os.Getenv("CREDITFLOW_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	os.Exit(code)
}

// usageError marks a problem with the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env *env) error
}

func commands() []command {
	return []command{
		{"replay", "run the pipeline over event files and write the outputs of SPEC 5", runReplay},
		{"close", "close (or preview with --dry-run) one billing period over event files", runClose},
		{"gen", "write realistic usage events (JSON lines) for tests, demos and load", runGen},
		{"run", "run the streaming pipeline: Kafka in, ClickHouse and Kafka out", runStream},
		{"migrate", "apply the ClickHouse schema migrations", runMigrate},
		{"broker", "run an in-memory Kafka broker (franz-go kfake) for demos", runBroker},
		{"rawsink", "benchmark baseline: insert raw events into ClickHouse, nothing else", runRawSink},
		{"probe", "measure produce-to-visible latency of a running pipeline", runProbe},
	}
}

// env carries the process's edges to subcommands.
type env struct {
	stdout, stderr io.Writer
	log            zerolog.Logger
	now            func() time.Time
	isTerminal     bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, now: time.Now}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		e.isTerminal = true
		e.log = zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger()
	} else {
		e.log = zerolog.New(stderr).With().Timestamp().Logger()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], e)
		var ue usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "creditflow %s: %v\nRun 'creditflow %s -h' for usage.\n", c.name, err, c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "creditflow %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "creditflow: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: creditflow <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("creditflow "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// timeFlag is an RFC 3339 instant flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time (e.g. 2026-02-01T00:00:00Z): %q", s)
	}
	f.t = t.UTC()
	return nil
}
