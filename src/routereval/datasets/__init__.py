"""Router datasets: splits and candidate pools built from performance records."""
