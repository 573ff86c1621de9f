package uin

import (
	"errors"
	"fmt"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"valid nhs example", "9434765919", nil},
		{"valid check digit zero", "9434765870", nil},
		{"wrong check digit", "9434765918", ErrCheckDigit},
		{"check digit would be ten", "1000000010", ErrCheckDigit},
		{"too short", "943476591", ErrLength},
		{"too long", "94347659190", ErrLength},
		{"letters", "94347659A9", ErrDigits},
		{"empty", "", ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(tt.in); !errors.Is(got, tt.want) {
				t.Fatalf("Check(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestWithCheckDigit(t *testing.T) {
	for _, nine := range []string{"943476591", "123456789", "400000000"} {
		s, ok := WithCheckDigit(nine)
		if ok && !Valid(s) {
			t.Fatalf("WithCheckDigit(%q) = %q, which is not valid", nine, s)
		}
		if !ok {
			for d := '0'; d <= '9'; d++ {
				if Valid(nine + string(d)) {
					t.Fatalf("WithCheckDigit(%q) said none, but %c works", nine, d)
				}
			}
		}
	}
}

func TestPartition(t *testing.T) {
	counts := map[string]int{}
	for i := 0; i < 16000; i++ {
		s, ok := WithCheckDigit(fmt.Sprintf("4%08d", i))
		if !ok {
			continue
		}
		p := Partition(s)
		if p != Partition(s) || len(p) != 2 || p < "00" || p > "15" {
			t.Fatalf("Partition(%s) = %q", s, p)
		}
		counts[p]++
	}
	if len(counts) != Partitions {
		t.Fatalf("%d partitions used, want %d", len(counts), Partitions)
	}
	for p, n := range counts {
		if n < 500 || n > 1300 {
			t.Errorf("partition %s holds %d children: badly spread", p, n)
		}
	}
}
