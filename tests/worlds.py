"""Tiny worlds used by several test modules (one copy of each)."""

SHUTDOWN = """
model shutdown
discount 0.9
var x : 0..5 = 0
action off when x == 0: x' = 1
action on when x == 0: x' = 2
action go_a when x == 2: x' = 3
action go_b when x == 2: x' = 4
action go_c when x == 2: x' = 5
terminal x == 1 || x >= 3
cost effort = 1 * [off]
"""
"""Turner et al.'s shutdown world: at x=0 'off' leads to one absorbing state, 'on' to x=2, from which
three absorbing states are reachable; the agent pays for 'off', so it goes on."""

FINE = """model fine
discount 0.5
var off : bool = false
action comply when !off: off' = true
action work when !off: skip
terminal off
cost effort = 1 * [work]
check corrigible : accepts_shutdown(request = !off, comply = [comply], mechanism = [off])
check stops : P >= 0.9 [ F off ]
"""
"""A robot for which every check holds: working costs, complying ends all cost."""

FAN = """model fan
discount 0.9
var x : 0..3 = 0
action a when x == 0: x' = 1
action b when x == 0: x' = 2
action c when x == 0: x' = 3
terminal x != 0
"""
"""Three absorbing choices at x=0 (Turner et al.'s fan): each is optimal for a third of uniform rewards."""
