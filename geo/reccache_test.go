package geo

import "testing"

func TestRecordCache(t *testing.T) {
	var c recordCache
	if c.get(100) != nil {
		t.Fatal("empty cache hit")
	}
	london := Location{Country: "GB", City: "London", Continent: "EU"}
	c.put(100, london, true)
	if e := c.get(100); e == nil || e.loc != london || !e.ok {
		t.Fatalf("get(100) = %+v", e)
	}
	// Find another offset for the same slot: it must miss, then evict.
	other := uintptr(101)
	for slotOf(other) != slotOf(100) {
		other++
	}
	if c.get(other) != nil {
		t.Fatalf("get(%d) hit the entry of offset 100", other)
	}
	c.put(other, Location{}, false)
	if e := c.get(other); e == nil || e.ok {
		t.Fatalf("get(%d) = %+v, want a negative entry", other, e)
	}
	if c.get(100) != nil {
		t.Fatal("offset 100 survived eviction from its slot")
	}
}
