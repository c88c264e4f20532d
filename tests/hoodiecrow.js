// Starts Hoodiecrow (npm hoodiecrow-imap) on 127.0.0.1 for the tests.
// Usage: node hoodiecrow.js PORT MODE USER PASSWORD TOKEN   (MODE: plain | gmail)
// Prints "ready PORT" once listening. Plain mode has Drafts/Sent/Junk marked by special-use;
// Gmail mode has X-GM-EXT-1 and Gmail's [Gmail]/... folders, like imap.gmail.com.
"use strict";

const hoodiecrow = require("hoodiecrow-imap");

const [port, mode, user, password, token] = process.argv.slice(2);
const gmail = mode === "gmail";

const plugins = ["ID", "SASL-IR", "AUTH-PLAIN", "XOAUTH2", "NAMESPACE", "IDLE", "ENABLE",
                 "CONDSTORE", "LITERALPLUS", "UNSELECT", "SPECIAL-USE", "MOVE", "UIDPLUS"];
if (gmail) {
    plugins.push("X-GM-EXT-1", gmailLabelSearch);
}
plugins.push(saslWithoutInitialResponse, oauthBearer, partialFetchOfMany);

// Hoodiecrow 2.1 answers `FETCH 1:3 BODY.PEEK[]<0.N>` with the first message only (its
// handler shortens the shared <0.N> to <0> when a message is shorter than N, so the next
// messages get nothing); every real server answers each message. Each message is cut from
// the requested <0.N>, and the answer echoes the origin only (`BODY[]<0>`), as RFC 3501 says.
const partials = new WeakMap();
function partialFetchOfMany(server) {
    const builtin = require("hoodiecrow-imap/lib/commands/handlers/fetch");
    ["BODY", "BODY.PEEK"].forEach(function(key) {
        server.fetchHandlers[key] = function(connection, message, query) {
            if (!query.partial) {
                return builtin[key](connection, message, query);
            }
            const requested = partials.get(query) || query.partial.slice();
            partials.set(query, requested);
            const answer = builtin[key](connection, message,
                                        Object.assign({}, query, {partial: requested.slice()}));
            query.partial = [requested[0]];
            return answer;
        };
    });
}

// Gmail and Office 365 accept AUTHENTICATE XOAUTH2 without SASL-IR (the client sends the
// token after a "+" continuation, as Python's imaplib does); Hoodiecrow wants it inline.
function saslWithoutInitialResponse(server) {
    const inline = server.getCommandHandler("AUTHENTICATE XOAUTH2");
    server.setCommandHandler("AUTHENTICATE XOAUTH2", function(connection, parsed, data, callback) {
        if (parsed.attributes && parsed.attributes.length) {
            return inline(connection, parsed, data, callback);
        }
        connection.send({tag: "+", attributes: [{type: "TEXT", value: ""}]}, "SASL", parsed, data);
        connection.inputHandler = function(line) {
            connection.inputHandler = false;
            parsed.attributes = [{type: "ATOM", value: line.trim()}];
            inline(connection, parsed, data, function() {});
        };
        return callback();
    });
}

// Gmail advertises X-GM-EXT-1 and answers SEARCH X-GM-LABELS <label>; Hoodiecrow's plugin
// does neither (it stores and fetches labels), so this adds both with Gmail's meaning.
function gmailLabelSearch(server) {
    server.registerCapability("X-GM-EXT-1");
    server.searchHandlers["X-GM-LABELS"] = function(connection, message, index, label) {
        const wanted = String(label && label.value || label);
        return (message["X-GM-LABELS"] || []).indexOf(wanted) >= 0;
    };
}

// Gmail also offers OAUTHBEARER (RFC 7628), which Hoodiecrow lacks: the same check of user
// and token as its XOAUTH2, on the GS2 form "n,a=USER,^Aauth=Bearer TOKEN^A^A".
function oauthBearer(server) {
    server.registerCapability("AUTH=OAUTHBEARER", function(connection) {
        return connection.state === "Not Authenticated";
    });
    server.setCommandHandler("AUTHENTICATE OAUTHBEARER", function(connection, parsed, data, callback) {
        const answer = function(line) {
            const parts = Buffer.from(line.trim(), "base64").toString("utf-8").split("\x01");
            const who = /^n,a=([^,]*),$/.exec(parts[0] || "");
            const bearer = /^auth=Bearer (.+)$/.exec(parts[1] || "");
            const account = who && server.users[who[1]];
            const ok = account && bearer && account.xoauth2 &&
                account.xoauth2.accessToken === bearer[1];
            if (ok) {
                connection.state = "Authenticated";
            }
            connection.send({tag: parsed.tag, command: ok ? "OK" : "NO",
                             attributes: [{type: "TEXT", value: ok ? "User logged in" :
                                                                      "SASL authentication failed"}]},
                            "AUTHENTICATE OAUTHBEARER", parsed, data);
        };
        if (parsed.attributes && parsed.attributes.length) {
            answer(String(parsed.attributes[0].value));
            return callback();
        }
        connection.send({tag: "+", attributes: [{type: "TEXT", value: ""}]}, "SASL", parsed, data);
        connection.inputHandler = function(line) {
            connection.inputHandler = false;
            answer(line);
        };
        return callback();
    });
}

const folders = gmail ? {
    "[Gmail]": {
        flags: ["\\Noselect"],
        folders: {
            "All Mail": {"special-use": "\\All"},
            "Drafts": {"special-use": "\\Drafts"},
            "Sent Mail": {"special-use": "\\Sent"},
            "Spam": {"special-use": "\\Junk"},
            "Trash": {"special-use": "\\Trash"}
        }
    }
} : {
    "Drafts": {"special-use": "\\Drafts"},
    "Sent": {"special-use": "\\Sent"},
    "Junk": {"special-use": "\\Junk"}
};

const server = hoodiecrow({
    plugins: plugins,
    users: {[user]: {password: password, xoauth2: {accessToken: token, sessionTimeout: 3600000}}},
    storage: {"INBOX": {messages: []}, "": {separator: "/", folders: folders}}
});

server.listen(Number(port), "127.0.0.1", function() {
    process.stdout.write("ready " + port + "\n");
});
