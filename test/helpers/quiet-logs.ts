import test from 'ava';
test.afterEach.always((t) => { if (!t.passed) t.log('HOOK SAW FAILURE'); });
