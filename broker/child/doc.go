// Package child holds what the broker knows about one child: the s.12(4)
// index record and the consent history (State), how an event changes them
// (State.Apply), the events the broker generates because of a change (Derive:
// transfers, concern matches), and where states are kept (Store: JetStream KV
// keyed by the child's keyed hash, with a cache kept coherent by a watch). In:
// validated events. Out: the next state, generated events, compare-and-set
// writes. It never decides who receives anything.
package child
