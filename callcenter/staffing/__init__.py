"""Seat planning (GB/T 44190 6.1.1.1, 6.1.3.1): call forecasts per half hour from the call
history, and the agents needed by Erlang C and Erlang A for a service target."""
