package server

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestViewOutcome(t *testing.T) {
	line := `{"id":"j","batch":"B","request":{"url":"http://u:pw1@h/","auth":["u","pw2"],"headers":{"Authorization":"Bearer pw3","X":"y"},"cookies":{"c":"pw4"},"params":{"n":1.0}},` +
		`"status_code":200,"headers":{"Set-Cookie":"s=pw5","Content-Type":"text/plain"},"url":"http://u:pw6@h/final",` +
		`"history":[{"url":"http://u:pw7@h/r","headers":{"Set-Cookie":"pw8"}}],"body":"` + strings.Repeat("é", 10) + `"}`
	o, err := viewOutcome([]byte(line), 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(o)
	out := string(b)
	for i := 1; i <= 8; i++ {
		if secret := "pw" + string(rune('0'+i)); strings.Contains(out, secret) {
			t.Errorf("%s shown: %s", secret, out)
		}
	}
	for _, kept := range []string{`"X":"y"`, `"Content-Type":"text/plain"`, `"n":1.0`, `"body_cut":true`, `"body":"éé"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s missing: %s", kept, out)
		}
	}
	if _, err := viewOutcome([]byte(`[1]`), 0); err == nil {
		t.Error("an array taken for an outcome")
	}
}
