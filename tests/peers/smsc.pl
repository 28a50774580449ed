#!/usr/bin/perl
# A small but real SMPP server (SMSC) for tests and the demo, built on
# Debian's libnet-smpp-perl (Net::SMPP in server mode).
#
#   smsc.pl [--addr 0.0.0.0] [--port 2775] [--system-id portlock-smsc]
#           [--password PW] [--verbose]
#
# Answers, per SMPP 3.4:
#   enquire_link                       -> enquire_link_resp (also before bind)
#   bind_transmitter/receiver/transceiver -> *_resp, status 0 (or ESME_RINVPASWD
#                                         0x0E when --password is set and differs)
#   submit_sm (bound only)             -> submit_sm_resp with a message id
#   unbind                             -> unbind_resp, then close
#   anything else                      -> generic_nack, ESME_RINVCMDID (3)
# Net::SMPP is IPv4 only (IO::Socket::INET). One process per connection.
use strict;
use warnings;
use Getopt::Long;
use POSIX ":sys_wait_h";
use Net::SMPP;

my ($addr, $port, $system_id, $password, $verbose) = ('0.0.0.0', 2775, 'portlock-smsc', undef, 0);
GetOptions('addr=s' => \$addr, 'port=i' => \$port, 'system-id=s' => \$system_id,
	   'password=s' => \$password, 'verbose' => \$verbose)
	or die "usage: smsc.pl [--addr A] [--port P] [--system-id ID] [--password PW] [--verbose]\n";

use constant {
	ESME_ROK => 0x00, ESME_RINVCMDID => 0x03, ESME_RINVBNDSTS => 0x04, ESME_RINVPASWD => 0x0E,
};

sub logmsg { print STDERR "smsc[$$]: @_\n" if $verbose }
# Net::SMPP warns on every client that hangs up ("premature eof"): only with --verbose
$SIG{__WARN__} = sub { print STDERR @_ if $verbose };

my $listen = Net::SMPP->new_listen($addr, port => $port, smpp_version => 0x34, timeout => 0)
	or die "smsc.pl: cannot listen on $addr:$port: $!\n";
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{TERM} = $SIG{INT} = sub { exit 0 };
$| = 1;
print STDERR "smsc.pl: listening on $addr:$port\n";

my %bind_resp = (
	0x00000001 => 'bind_receiver_resp',
	0x00000002 => 'bind_transmitter_resp',
	0x00000009 => 'bind_transceiver_resp',
);

sub serve {
	my ($esme) = @_;
	my ($bound, $msgid) = (0, 0);
	while (my $pdu = $esme->read_pdu()) {
		my ($cmd, $seq) = ($pdu->{cmd}, $pdu->{seq});
		logmsg(sprintf("cmd 0x%08x seq %d", $cmd, $seq));
		if ($cmd == 0x00000015) {
			$esme->enquire_link_resp(seq => $seq);
		} elsif (my $resp = $bind_resp{$cmd}) {
			my $ok = !defined $password || (defined $pdu->{password} && $pdu->{password} eq $password);
			$esme->$resp(seq => $seq, system_id => $system_id,
				     status => $ok ? ESME_ROK : ESME_RINVPASWD);
			$bound = $ok;
		} elsif ($cmd == 0x00000004) {
			if ($bound) {
				$esme->submit_sm_resp(seq => $seq, message_id => sprintf("%08d", ++$msgid));
			} else {
				$esme->generic_nack(seq => $seq, status => ESME_RINVBNDSTS);
			}
		} elsif ($cmd == 0x00000006) {
			$esme->unbind_resp(seq => $seq);
			last;
		} elsif ($cmd & 0x80000000) {
			next;	# a response from the client: nothing to answer
		} else {
			$esme->generic_nack(seq => $seq, status => ESME_RINVCMDID);
		}
	}
	$esme->close;
}

while (1) {
	my $esme = $listen->accept or next;
	my $pid = fork;
	if (!defined $pid) {
		$esme->close;
		next;
	}
	if ($pid == 0) {
		$listen->close;
		$SIG{TERM} = $SIG{INT} = 'DEFAULT';
		serve($esme);
		exit 0;
	}
	$esme->close;
}
