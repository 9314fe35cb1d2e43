package ledger

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

var update = flag.Bool("update", false, "rewrite golden files")

// scenario is one testdata/*.yaml file: a catalog and steps run in order.
type scenario struct {
	Catalog string `yaml:"catalog"`
	Steps   []step `yaml:"steps"`
}

// step does one thing to one tenant (the catalog's only tenant when empty).
type step struct {
	Tenant string     `yaml:"tenant"`
	Usage  *usageStep `yaml:"usage"`
	Grant  *grantStep `yaml:"grant"`
	Close  int        `yaml:"close"` // close this many periods
	Live   string     `yaml:"live"`  // print Live at this instant
}

type usageStep struct {
	Time    string `yaml:"time"`
	Credits string `yaml:"credits"`
}

type grantStep struct {
	ID      string `yaml:"id"`
	Credits string `yaml:"credits"`
	Price   string `yaml:"price"`
	Kind    string `yaml:"kind"`
	Time    string `yaml:"time"`
	Expires int    `yaml:"expires_after_periods"`
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

func mustMicros(t testing.TB, s string) schemas.Micros {
	t.Helper()
	m, err := schemas.ParseMicros(s)
	if err != nil {
		t.Fatalf("credits %q: %v", s, err)
	}
	return m
}

// runScenario runs sc and returns the golden text.
func runScenario(t *testing.T, sc scenario) string {
	cat, err := catalog.Parse("catalog", []byte(sc.Catalog))
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	accounts := map[string]*Account{}
	lives := map[string]*lifeTotals{}
	for _, tn := range cat.Tenants {
		accounts[tn.ID] = NewAccount(cat, tn)
		lives[tn.ID] = &lifeTotals{}
	}
	var out strings.Builder
	for n, s := range sc.Steps {
		id := s.Tenant
		if id == "" {
			if len(cat.Tenants) != 1 {
				t.Fatalf("step %d: tenant required (the catalog has %d)", n, len(cat.Tenants))
			}
			id = cat.Tenants[0].ID
		}
		a := accounts[id]
		if a == nil {
			t.Fatalf("step %d: unknown tenant %q", n, id)
		}
		switch {
		case s.Usage != nil:
			if err := a.AddUsage(mustTime(t, s.Usage.Time), mustMicros(t, s.Usage.Credits)); err != nil {
				t.Fatalf("step %d: %v", n, err)
			}
		case s.Grant != nil:
			g := schemas.Grant{
				ID: s.Grant.ID, Tenant: id, Credits: mustMicros(t, s.Grant.Credits),
				Price: schemas.MustDecimal(s.Grant.Price), Kind: schemas.GrantKind(s.Grant.Kind),
				Time: mustTime(t, s.Grant.Time), ExpiresAfterPeriods: s.Grant.Expires,
			}
			if err := a.AddGrant(g); err != nil {
				t.Fatalf("step %d: %v", n, err)
			}
		case s.Live != "":
			l := a.Live(mustTime(t, s.Live))
			cap := "none"
			if l.CapCredits != nil {
				cap = l.CapCredits.String()
			}
			fmt.Fprintf(&out, "== live %s at %s\nperiod %s plan %s rollover_in %s included %s grant_credits %s consumed %s available %s mode %s cap %s\n\n",
				id, s.Live, l.Period, l.Plan, l.RolloverIn, l.Included, l.GrantCredits, l.Consumed, l.Available(), l.Overage.Mode, cap)
		case s.Close > 0:
			for range s.Close {
				c, err := a.Close(a.NextToClose())
				if err != nil {
					t.Fatalf("step %d: %v", n, err)
				}
				checkClose(t, a, c, lives[id])
				writeClosed(&out, c)
			}
		default:
			t.Fatalf("step %d: does nothing", n)
		}
	}
	for _, tn := range cat.Tenants {
		if l := lives[tn.ID]; l.closes > 0 {
			fmt.Fprintf(&out, "== life %s: %s\n", tn.ID, l)
		}
	}
	return out.String()
}

func writeClosed(w *strings.Builder, c Closed) {
	pc := c.Close
	fmt.Fprintf(w, "== close %s %s/%s\n", pc.Tenant, pc.PeriodStart.Format(time.RFC3339), pc.PeriodEnd.Format(time.RFC3339))
	rows := []struct {
		k string
		v fmt.Stringer
	}{
		{"rollover_in", pc.RolloverIn}, {"included", pc.Included}, {"grant_credits_available", pc.GrantCreditsAvailable},
		{"available", pc.Available}, {"consumed", pc.Consumed}, {"overage", pc.Overage},
		{"billable_overage", pc.BillableOverage}, {"uncollected_overage", pc.UncollectedOverage},
		{"overage_amount", pc.OverageAmount}, {"rollover_out", pc.RolloverOut}, {"expired_credits", pc.ExpiredCredits},
		{"recognized_revenue", pc.RecognizedRevenue}, {"deferred_revenue_end", pc.DeferredRevenueEnd},
	}
	fmt.Fprintf(w, "  %-24s %s\n", "plan", pc.Plan)
	for _, r := range rows {
		fmt.Fprintf(w, "  %-24s %s\n", r.k, r.v)
	}
	fmt.Fprintf(w, "  %-24s %s\n", "currency", pc.Currency)
	for _, l := range c.Lines {
		pur := ""
		if l.ChargedAtPurchase {
			pur = " charged_at_purchase"
		}
		fmt.Fprintf(w, "  line %-21s qty %s unit %s amount %s %q%s\n", l.Kind, l.Quantity, l.UnitPrice, l.Amount, l.Description, pur)
	}
	if r := c.Recommendation; r != nil {
		fmt.Fprintf(w, "  recommend %s → %s: current %s, recommended %s, savings %s %s (%d of the last periods over)\n",
			r.CurrentPlan, r.RecommendedPlan, r.CurrentCost, r.RecommendedCost, r.Savings, r.Currency, r.PeriodsOver)
	}
	w.WriteString("\n")
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var sc scenario
			if err := yaml.Unmarshal(data, &sc); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			got := runScenario(t, sc)
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}
