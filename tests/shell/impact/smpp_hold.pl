#!/usr/bin/perl
# smpp_hold.pl SRC HOST PORT READYFILE: a Net::SMPP (libnet-smpp-perl) client
# that binds as a transceiver from SRC and holds the session open (an
# enquire_link every 2 s) until killed; writes "bound LOCALPORT" to READYFILE
# once the bind succeeded.
use strict;
use warnings;
use Net::SMPP;

my ($src, $host, $port, $ready) = @ARGV;
die "usage: smpp_hold.pl SRC HOST PORT READYFILE\n" unless defined $ready;
my ($smpp, $resp) = Net::SMPP->new_transceiver($host, port => $port, local_ip => $src,
	system_id => 'impact-test', password => 'x', timeout => 5)
	or die "smpp_hold.pl: cannot connect/bind to $host:$port from $src: $!\n";
die "smpp_hold.pl: bind refused (status $resp->{status})\n" if $resp->{status};
open(my $f, '>', "$ready.tmp") or die "$ready: $!\n";
print $f "bound ", $smpp->sockport, "\n";
close $f;
rename("$ready.tmp", $ready) or die "$ready: $!\n";
$SIG{TERM} = $SIG{INT} = sub { exit 0 };
for (;;) {
	sleep 2;
	$smpp->enquire_link(async => 1);
}
