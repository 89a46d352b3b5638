package certs

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	pair := FilePair{CertFile: "a.crt", KeyFile: "a.key"}
	acme := func(mod func(*ACMEConfig)) Config {
		c := Config{ACME: ACMEConfig{Names: []string{"example.com"}, Storage: StorageConfig{Dir: "/tmp/x"}}}
		mod(&c.ACME)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"zero config: TLS off", Config{}, nil},
		{"files", Config{Certificates: []FilePair{pair}}, nil},
		{"acme dir", acme(func(*ACMEConfig) {}), nil},
		{"acme bucket and everything", acme(func(a *ACMEConfig) {
			a.Names = []string{"example.com", "WWW.Example.com.", "127.0.0.1", "::1", "localhost"}
			a.Storage = StorageConfig{Bucket: "b", Prefix: "certs/"}
			a.Email, a.CA, a.CARoot = "ops@example.com", "https://127.0.0.1:14000/dir", "ca.pem"
			a.Challenges = []string{"tls-alpn-01", "http-01"}
			a.RenewalWindowRatio = 0.5
		}), nil},
		{"empty file names", Config{Certificates: []FilePair{{}}},
			[]string{"certificates[0].cert_file is empty", "certificates[0].key_file is empty"}},
		{"acme settings without names", Config{ACME: ACMEConfig{Email: "a@b.c"}}, []string{"acme: names is empty"}},
		{"bad names", acme(func(a *ACMEConfig) {
			a.Names = []string{"*.example.com", "exa mple.com", "-a.com", "a..b", "", "example.com", "EXAMPLE.com",
				strings.Repeat("a", 64) + ".com"}
		}), []string{`acme.names[0] "*.example.com": a wildcard`, `acme.names[1]`, `acme.names[2]`, `acme.names[3]`,
			`acme.names[4] "": empty`, `acme.names[6] "EXAMPLE.com": listed twice`, `acme.names[7]`}},
		{"no storage", acme(func(a *ACMEConfig) { a.Storage = StorageConfig{} }), []string{"acme.storage: set bucket"}},
		{"two storages", acme(func(a *ACMEConfig) { a.Storage.Bucket = "b" }), []string{"not both"}},
		{"prefix with dir", acme(func(a *ACMEConfig) { a.Storage.Prefix = "p/" }), []string{"prefix is for a bucket"}},
		{"bad ca, email, challenge, ratio", acme(func(a *ACMEConfig) {
			a.CA, a.Email, a.Challenges, a.RenewalWindowRatio = "http://ca/dir", "nobody", []string{"dns-01", "http-01", "http-01"}, 1
		}), []string{`acme.ca "http://ca/dir"`, `acme.email "nobody"`, `acme.challenges[0] "dns-01"`,
			`acme.challenges[2] "http-01": listed twice`, `acme.renewal_window_ratio 1`}},
		{"default name not acme", acme(func(*ACMEConfig) {}), nil},
		{"default name", Config{DefaultName: "other.com", ACME: ACMEConfig{Names: []string{"example.com"}, Storage: StorageConfig{Dir: "d"}}},
			[]string{`default_name "other.com": not one of acme.names`}},
		{"default name invalid", Config{DefaultName: "a b", Certificates: []FilePair{pair}}, []string{`default_name "a b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.want) {
				t.Errorf("%d errors, want %d: %v", got, len(tt.want), err)
			}
		})
	}
}

// certmagic's "no email" placeholder never reaches a CA as a contact.
func TestDropPlaceholderContacts(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{"mailto:default"}, nil},
		{[]string{"mailto:ops@example.com"}, []string{"mailto:ops@example.com"}},
		{[]string{"mailto:DEFAULT", "mailto:ops@example.com"}, []string{"mailto:ops@example.com"}},
	} {
		got := dropPlaceholderContacts(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
			}
		}
	}
}
